"""The container image: what ``deploy/Dockerfile`` sets up is what ``samsyn serve`` needs.

No Docker engine runs the tests, so the Dockerfile is read as Docker reads it and held
against Samsyn itself: its settings, its commands, its entry point run for real.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest

from api.cli import build_parser
from ledger.integrity import load_or_create_signing_key
from ledger.settings import Settings
from tests.deploy.dockerfile import Instruction, env, instructions, last

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"
IMAGE = instructions(DOCKERFILE)
ENV = env(IMAGE)
DATA = PurePosixPath(last(IMAGE, "WORKDIR").text)
ENTRYPOINT_ONLY = {"SAMSYN_SIGNING_KEY_FILE"}
"""Variables the entry point reads, not Samsyn's settings."""


def runs(command: str) -> list[str]:
    return [i.text for i in IMAGE if i.name == "RUN" and command in i.text]


def test_the_image_runs_as_a_user_of_its_own_never_root() -> None:
    user, _, group = last(IMAGE, "USER").text.partition(":")
    assert user not in ("root", "0") and group not in ("root", "0")
    [creation] = runs("useradd")
    assert f"useradd --system --uid 10001 --gid {group} --home-dir {DATA}" in creation


def test_the_user_owns_its_data_directory_and_every_path_samsyn_writes_lies_in_it() -> None:
    user = last(IMAGE, "USER").text.partition(":")[0]
    assert any(f"install -d -o {user} -g {user} -m 0750 {DATA}" in run for run in runs("install"))
    settings = Settings(**{k.removeprefix("SAMSYN_").lower(): v for k, v in ENV.items()
                           if k.startswith("SAMSYN_") and k not in ENTRYPOINT_ONLY})
    assert DATA in PurePosixPath(str(settings.sqlite_path)).parents
    assert settings.signing_key_path is not None
    assert DATA in PurePosixPath(str(settings.signing_key_path)).parents
    # The mounted secret is read, never written: it lies outside the data directory.
    assert DATA not in PurePosixPath(ENV["SAMSYN_SIGNING_KEY_FILE"]).parents


def test_every_samsyn_variable_the_image_sets_is_a_setting_with_a_valid_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = {f"SAMSYN_{field.upper()}" for field in Settings.model_fields}
    for key, value in ENV.items():
        if key.startswith("SAMSYN_") and key not in ENTRYPOINT_ONLY:
            assert key in names, f"{key} is no setting of Samsyn's"
            monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.host == "0.0.0.0" and settings.log_format == "json"
    assert settings.demo_on_empty is False
    assert ENV.get("SAMSYN_LOG_ORIGIN") is None  # configuration, never baked in (nor the host)


def test_the_image_starts_samsyn_serve_through_its_entry_point() -> None:
    [entrypoint] = last(IMAGE, "ENTRYPOINT").exec_form
    copies = [i.text.split() for i in IMAGE if i.name == "COPY"]
    assert ["deploy/entrypoint.sh", f"/usr/local/bin/{entrypoint}"] in copies
    for *sources, _ in copies:
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
    command = last(IMAGE, "CMD").exec_form
    assert command == ["serve"]
    assert build_parser().parse_args(command).command == "serve"
    subprocess.run(["sh", "-n", str(ENTRYPOINT)], check=True)


def test_health_is_checked_on_the_port_the_service_listens_on() -> None:
    port = ENV["SAMSYN_PORT"]
    assert last(IMAGE, "EXPOSE").text == port
    check: Instruction = last(IMAGE, "HEALTHCHECK")
    assert "/health" in check.text and "SAMSYN_PORT" in check.text


# -- the entry point, run for real --------------------------------------------------------------


@pytest.fixture
def container(tmp_path: Path) -> dict[str, str]:
    """The image's environment with its paths moved under ``tmp_path``, and samsyn on PATH."""
    data = tmp_path / "var-lib-samsyn"
    data.mkdir()
    return {
        **{k: v for k, v in ENV.items() if k.startswith("SAMSYN_")},
        "SAMSYN_DATABASE_URL": f"sqlite:///{data / 'samsyn.sqlite3'}",
        "SAMSYN_SIGNING_KEY_FILE": str(tmp_path / "run-secrets" / "samsyn-signing-key"),
        "SAMSYN_SIGNING_KEY_PATH": str(data / "keys" / "signing.key"),
        "SAMSYN_LOG_FORMAT": "console",
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
    }


def entrypoint(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(ENTRYPOINT), *args], env=environment, capture_output=True,
                          text=True, timeout=120, check=False)


def mount_key(environment: dict[str, str], name: str) -> str:
    """A key named ``name`` at the secret's path, group-readable as a secret volume makes it;
    answers its public key."""
    secret = Path(environment["SAMSYN_SIGNING_KEY_FILE"])
    scratch = secret.parent.parent / "made"
    key = load_or_create_signing_key(scratch / "key", name)
    secret.parent.mkdir(parents=True)
    shutil.copy(scratch / "key", secret)
    secret.chmod(0o440)
    return key.vkey


def test_without_the_log_s_origin_it_refuses_to_start_in_one_line(
    container: dict[str, str],
) -> None:
    mount_key(container, "ledger.example.org/samsyn")
    done = entrypoint(container, "serve")
    assert done.returncode == 78
    assert done.stderr.splitlines() == [done.stderr.strip()]
    assert "SAMSYN_LOG_ORIGIN" in done.stderr


def test_without_the_mounted_key_it_refuses_to_start_in_one_line(
    container: dict[str, str],
) -> None:
    container["SAMSYN_LOG_ORIGIN"] = "ledger.example.org/samsyn"
    done = entrypoint(container, "serve")
    assert done.returncode == 78
    assert done.stderr.startswith("samsyn: no signing key") and len(done.stderr.splitlines()) == 1
    assert not Path(container["SAMSYN_SIGNING_KEY_PATH"]).exists()  # none made up


def test_it_signs_with_the_mounted_key_under_the_configured_origin(
    container: dict[str, str],
) -> None:
    container["SAMSYN_LOG_ORIGIN"] = "ledger.example.org/samsyn"
    vkey = mount_key(container, "ledger.example.org/samsyn")
    done = entrypoint(container, "checkpoint")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "ledger.example.org/samsyn"
    assert vkey in done.stderr  # the key the secret holds, no other
    copied = Path(container["SAMSYN_SIGNING_KEY_PATH"])
    assert stat.S_IMODE(copied.stat().st_mode) == 0o600


def test_a_key_of_another_name_than_the_origin_is_refused(container: dict[str, str]) -> None:
    container["SAMSYN_LOG_ORIGIN"] = "ledger.example.org/samsyn"
    mount_key(container, "samsyn/some-container-hostname")
    done = entrypoint(container, "checkpoint")
    assert done.returncode != 0
    assert "samsyn/some-container-hostname" in done.stderr


def test_the_projector_needs_no_key(container: dict[str, str]) -> None:
    done = entrypoint(container, "project", "--help")
    assert done.returncode == 0, done.stderr
