"""What pyproject.toml cannot say: the C extensions. _sysio makes the system
calls of an audit write and of the shared rate-limit table's lock without
handing the GIL to another thread, and has the Mutex of the per-call
critical sections; _fastsign is the SignOrder
fast path (server/paysig/server/_fastsign.c, which includes the generated
_fastsign_spec.h: `make generate`). It links OpenSSL's libcrypto
(3.0 or later, non-deprecated API only) for HMAC-SHA256 and SHA-256; `make
venv` installs its headers (libssl-dev) when they are missing."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("paysig.server._fastsign", ["server/paysig/server/_fastsign.c"],
                             depends=["server/paysig/server/_fastsign_spec.h"],
                             libraries=["crypto"],
                             define_macros=[("OPENSSL_API_COMPAT", "30000"), ("OPENSSL_NO_DEPRECATED", None)],
                             extra_compile_args=["-std=c11", "-Wall", "-Wextra", "-Werror",
                                                 "-Wno-missing-field-initializers"]),
                   Extension("paysig.server._sysio", ["server/paysig/server/_sysio.c"],
                             extra_compile_args=["-std=c11", "-Wall", "-Wextra", "-Werror"])])
