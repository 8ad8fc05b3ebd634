"""GridGov 网格治理平台."""

__version__ = "0.1.0"
