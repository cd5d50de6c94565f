"""withscope.core.exporters"""
