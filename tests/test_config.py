"""Config loading: every mistake names the file, the app and the field, and never shows a key."""

import os
import subprocess
import textwrap

import pytest

from paysig.server import ConfigError, load_config
from paysig.server.keys import Env
from support import REPO

KEY = "sEcReT-appkey-do-not-print"
HEADER = '[[apps]]\napp_id = "g1"\nkind = "minigame"\noffer_id = "1450000001"\n'
SUPERAPP = '[[apps]]\napp_id = "s"\nkind = "superapp"\n'


def write(tmp_path, body, name="paysig.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def load_error(path, environ=None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, environ=environ or {})
    message = str(info.value)
    assert KEY not in message
    return message


def test_key_sources_and_versions(tmp_path):
    (tmp_path / "sandbox.key").write_text("file-key\n")
    (tmp_path / "sandbox.key").chmod(0o600)
    path = write(tmp_path, HEADER + textwrap.dedent("""\
        [apps.keys]
        production = [ { version = 3, env = "PAYSIG_TEST_KEY" }, { version = 1, value = "old" } ]
        sandbox = { file = "sandbox.key" }
        """))
    config = load_config(path, environ={"PAYSIG_TEST_KEY": KEY})
    app = config.apps["g1"]
    production = app.key_ring(Env.PRODUCTION)
    assert production.primary.version == 3
    assert production.primary.secret.reveal() == KEY.encode()
    assert [v.version for v in production.versions] == [3, 1]
    sandbox = app.key_ring(Env.SANDBOX)
    assert sandbox.primary.version == 1
    assert sandbox.primary.secret.reveal() == b"file-key"
    assert KEY not in repr(config) and KEY not in str(production)


@pytest.mark.parametrize(
    "body, expected",
    [
        ('[[apps]]\napp_id = "g1"\nkind = "game"\n', "apps[0] (g1): kind: required, one of minigame"),
        ('[[apps]]\napp_id = "g1"\nkind = "minigame"\n[apps.keys]\nproduction = { value = "k" }\n',
         "apps[0] (g1): offer_id: required for minigame"),
        ('[[apps]]\napp_id = "s"\nkind = "superapp"\noffer_id = 1\n[apps.keys]\nproduction = { value = "k" }\n',
         "apps[0] (s): offer_id: optional for superapp (needed to sign requestVirtualPayment), a string"),
        (HEADER + 'sign_data_env = true\n[apps.keys]\nproduction = { value = "k" }\n',
         "apps[0] (g1): sign_data_env: superapp only"),
        (SUPERAPP + 'sign_data_env = "yes"\n[apps.keys]\nproduction = { value = "k" }\n',
         "apps[0] (s): sign_data_env: must be true or false"),
        (HEADER + 'currencies = ["CNY"]\n[apps.keys]\nproduction = { value = "k" }\n',
         "apps[0] (g1): currencies: superapp only"),
        (SUPERAPP + 'currencies = []\n[apps.keys]\nproduction = { value = "k" }\n',
         "apps[0] (s): currencies: must be a non-empty array of ISO 4217 codes"),
        (SUPERAPP + 'currencies = "USD"\n[apps.keys]\nproduction = { value = "k" }\n',
         "apps[0] (s): currencies: must be a non-empty array of ISO 4217 codes"),
        (SUPERAPP + 'currencies = ["USD", "usd"]\n[apps.keys]\nproduction = { value = "k" }\n',
         "apps[0] (s): currencies[1]: 'usd' is not an active ISO 4217 code"),
        (SUPERAPP + 'currencies = ["USD", "XTS"]\n[apps.keys]\nproduction = { value = "k" }\n',
         "apps[0] (s): currencies[1]: 'XTS' is not an active ISO 4217 code"),
        (SUPERAPP + 'currencies = ["USD", "SGD", "USD"]\n[apps.keys]\nproduction = { value = "k" }\n',
         "apps[0] (s): currencies[2]: USD is listed twice"),
        ('[[apps]]\napp_id = "s"\nkind = "superapp"\n[apps.keys]\nsandbox = { value = "k" }\n',
         "apps[0] (s): keys.sandbox: superapp apps have a single key"),
        (HEADER, "apps[0] (g1): keys: required"),
        (HEADER + '[apps.keys]\nproduction = { value = "k" }\nstaging = { value = "k" }\n',
         "apps[0] (g1): keys: unknown field 'staging'"),
        (HEADER + '[apps.keys]\nproduction = { env = "PAYSIG_UNSET_VAR" }\n',
         "apps[0] (g1): keys.production: env: environment variable PAYSIG_UNSET_VAR is not set"),
        (HEADER + '[apps.keys]\nproduction = { file = "missing.key" }\n',
         "apps[0] (g1): keys.production: file: cannot read"),
        (HEADER + f'[apps.keys]\nproduction = {{ value = "{KEY}", env = "X" }}\n',
         "apps[0] (g1): keys.production: exactly one of value, env, file"),
        (HEADER + f'[apps.keys]\nproduction = {{ value = " {KEY}" }}\n',
         "apps[0] (g1): keys.production: value: the key has surrounding white space"),
        (HEADER + '[apps.keys]\nproduction = [ { value = "a" } ]\n',
         "apps[0] (g1): keys.production[0]: version: required in a key array"),
        (HEADER + '[apps.keys]\nproduction = [ { version = 1, value = "a" }, { version = 1, value = "b" } ]\n',
         "apps[0] (g1): keys.production[1]: version: 1 is used twice"),
        (HEADER + '[apps.keys]\nproduction = { value = "k" }\n' + HEADER + '[apps.keys]\nproduction = { value = "k" }\n',
         "apps[1] (g1): app_id: duplicated"),
        (HEADER + 'colour = "blue"\n[apps.keys]\nproduction = { value = "k" }\n', "apps[0] (g1): unknown field 'colour'"),
        ('[server]\nport = 1\n', "unknown field 'server'"),
        ('', "apps: at least one [[apps]] table is required"),
        (f'[[apps]\napp_id = "{KEY}"', "not valid TOML"),
    ],
)
def test_bad_config_names_file_app_and_field(tmp_path, body, expected):
    path = write(tmp_path, body)
    message = load_error(path)
    assert message.startswith(str(path) + ": ")
    assert expected in message


def test_superapp_options(tmp_path):
    plain = load_config(write(tmp_path, SUPERAPP + '[apps.keys]\nproduction = { value = "k" }\n'))
    app = plain.apps["s"]
    assert (app.offer_id, app.sign_data_env, app.currencies) == (None, False, None)
    full = load_config(write(tmp_path, SUPERAPP + 'offer_id = "123"\nsign_data_env = true\ncurrencies = ["USD", "SGD"]\n'
                                       '[apps.keys]\nproduction = { value = "k" }\n', "full.toml"))
    app = full.apps["s"]
    assert (app.offer_id, app.sign_data_env, app.currencies) == ("123", True, ("USD", "SGD"))


def test_missing_file(tmp_path):
    assert "cannot read config" in load_error(tmp_path / "nope.toml")


def test_example_config_loads():
    from support import REPO

    config = load_config(REPO / "examples" / "paysig.toml", environ=dict(os.environ))
    assert set(config.apps) == {"demo-minigame", "demo-miniprogram", "demo-superapp"}


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_key_file_readable_by_others_is_refused(tmp_path, mode):
    key = tmp_path / "prod.key"
    key.write_text(KEY)
    key.chmod(mode)
    path = write(tmp_path, HEADER + '[apps.keys]\nproduction = { file = "prod.key" }\n')
    message = load_error(path)
    assert f"keys.production: file: {key} is accessible by group or others (mode {mode:04o}); run: chmod 600" in message


def test_root_owned_group_readable_key_is_accepted_for_a_non_root_server(tmp_path, monkeypatch):
    """Kubernetes secret volumes with fsGroup: owned by root, mode 0440."""
    key = tmp_path / "prod.key"
    key.write_text("platform-key")
    key.chmod(0o440)
    path = write(tmp_path, HEADER + '[apps.keys]\nproduction = { file = "prod.key" }\n')
    real_stat = os.stat

    def root_owned(p, *args, **kwargs):
        r = real_stat(p, *args, **kwargs)
        if str(p) != str(key):
            return r
        return os.stat_result((r.st_mode, r.st_ino, r.st_dev, r.st_nlink, 0, 0, r.st_size,
                               int(r.st_atime), int(r.st_mtime), int(r.st_ctime)))

    monkeypatch.setattr(os, "stat", root_owned)
    monkeypatch.setattr(os, "geteuid", lambda: 10001)
    assert load_config(path).apps["g1"].key_ring(Env.PRODUCTION).primary.secret.reveal() == b"platform-key"
    key.chmod(0o460)
    assert "is accessible by group or others" in load_error(path)


def test_every_committed_config_loads():
    """A config shipped in the repository (demo, conformance, push tests) must
    pass the same checks as an operator's: a clone's files are mode 0644."""
    names = subprocess.run(["git", "ls-files", "*.toml"], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout.split()
    configs = [REPO / n for n in names if not n.endswith("pyproject.toml")]
    assert len(configs) >= 3
    for path in configs:
        load_config(path)
