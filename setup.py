"""The one thing pyproject.toml cannot say: the C extension of the SignOrder
fast path (server/paysig/server/_fastsign.c, no dependency beyond CPython)."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("paysig.server._fastsign", ["server/paysig/server/_fastsign.c"],
                             extra_compile_args=["-std=c11", "-Wall", "-Wextra", "-Werror",
                                                 "-Wno-missing-field-initializers"])])
