"""withscope.core.workloads"""
