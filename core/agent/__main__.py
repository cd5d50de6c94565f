"""`python -m withscope.core.agent`: the agent's entry point (see the package docstring)."""

from . import main

if __name__ == "__main__":
    main()
