"""withscope.core.rules"""
