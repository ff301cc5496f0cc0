"""The one place fastpkt's version is written: pyproject.toml reads it (setuptools' dynamic
version), fastpkt.__version__ and `fastpkt --version` import it. See docs/RELEASING.md."""
__version__ = "0.1.0"
