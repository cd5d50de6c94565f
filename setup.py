"""The optional C accelerator of the recording hot path (everything else is in pyproject.toml).

`optional=True`: without a C compiler the package installs without it, and withscope runs on its
pure-Python hot path (slower; see core/_accel.py and the README's Performance section).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("withscope.core._speedups", ["core/_speedups.c"], optional=True, extra_compile_args=["-O2"]),
    ]
)
