"""``samsyn archive``: E-ARK SIP packages whose ERMS files validate against the ERMS 3 schema
and whose integrity export verifies, run as an operator runs it, on both backends; bad input
gets one line and a non-zero exit, and nothing is left half-written."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from lxml import etree

from api import cli
from ledger.application import Ledger
from ledger.importing import load_demo
from ledger.settings import Settings
from tests.oparl.conftest import synthetic

XSD = Path(__file__).parent.parent / "data" / "erms" / "ERMS_v3.xsd"
SCHEMA = etree.XMLSchema(etree.parse(str(XSD)))
E = "{https://DILCIS.eu/XML/ERMS}"
METS = "{http://www.loc.gov/METS/}"
XLINK = "{http://www.w3.org/1999/xlink}href"


def samsyn(store: tuple[Settings, str | None], *args: str) -> subprocess.CompletedProcess[str]:
    """``samsyn ARGS`` as an operator runs it; on PostgreSQL in this process (a separate
    process cannot be pointed at the test's schema), with the same one-line refusals."""
    settings, schema = store
    if schema is None:
        env = os.environ | {"SAMSYN_DATABASE_URL": settings.database_url,
                            "SAMSYN_LOG_FORMAT": "json"}
        return subprocess.run([sys.executable, "-m", "api.cli", *args], env=env,
                              capture_output=True, text=True, timeout=600, check=False)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = cli.run(cli.build_parser().parse_args(args), settings=settings, schema=schema)
    return subprocess.CompletedProcess(args, status, out.getvalue(), err.getvalue())


def verify(package: Path) -> subprocess.CompletedProcess[str]:
    """What an archivist runs years later: the offline verifier, with the key in the package."""
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "verify",
         str(package / "representations/rep1/data/ledger-export.jsonl"),
         "--key", str(package / "metadata/preservation/public-key.txt")],
        capture_output=True, text=True, timeout=600, check=False)


def packages(output: Path) -> list[Path]:
    return sorted(p for p in output.iterdir() if p.is_dir())


def check_package(package: Path) -> etree._ElementTree:
    """The ERMS file validates, METS names every file with its SHA-256, the export verifies
    against the key in the package, and the package carries the schema it follows."""
    erms = etree.parse(str(package / "metadata/descriptive/ERMS.xml"))
    assert SCHEMA.validate(erms), SCHEMA.error_log
    mets = etree.parse(str(package / "METS.xml"))
    named = [(r.get(XLINK), r.get("CHECKSUM")) for r in mets.iter(f"{METS}mdRef")]
    named += [(f.find(f"{METS}FLocat").get(XLINK), f.get("CHECKSUM"))
              for f in mets.iter(f"{METS}file")]
    assert {path for path, _ in named} == {
        "metadata/descriptive/ERMS.xml", "metadata/preservation/public-key.txt",
        "representations/rep1/data/ledger-export.jsonl", "schemas/ERMS_v3.xsd",
        "documentation/README.txt"}
    for path, checksum in named:
        assert hashlib.sha256((package / path).read_bytes()).hexdigest() == checksum, path
    assert (package / "schemas/ERMS_v3.xsd").read_bytes() == XSD.read_bytes()
    verified = verify(package)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith("ok: ")
    return erms


def test_the_demo_archives_one_valid_package_per_organisation(
    ledger: Ledger, store: tuple[Settings, str | None], tmp_path: Path,
) -> None:
    load_demo(ledger)
    output = tmp_path / "archive"
    done = samsyn(store, "archive", str(output))
    assert done.returncode == 0, done.stderr

    names = [p.name for p in packages(output)]
    assert len(names) == 10 and "samsyn-rjh" in names and "samsyn-svom" in names
    region = check_package(output / "samsyn-rjh")
    for package in packages(output):
        check_package(package)

    matters = {a.findtext(f"{E}objectId"): a for a in region.iter(f"{E}aggregation")}
    plan = matters["RJH:RS/203/2021"]
    assert plan.get("aggregationType") == "caseFile"
    assert {x.text for x in plan.findall(f"{E}extraId")} == {"RS/203/2021", "HSN/485/2021"}
    kinds = {r.get("recordType") for r in plan.findall(f"{E}record")}
    assert {"decision", "motion", "recommendation", "consultation", "consultation_response",
            "agreement"} <= kinds
    decision = next(r for r in plan.findall(f"{E}record")
                    if r.findtext(f"{E}objectId") == "RJH/RS/2021-03-25 §58")
    assert decision.find(f"{E}dates/{E}date[@dateType='decision']").text == "2021-03-25T00:00:00"
    documents = [r for r in plan.findall(f"{E}record")
                 if r.get("recordType").startswith("document")]
    assert documents and all(len(d.find(f"{E}extraId[@extraIdType='SHA-256']").text) == 64
                             for d in documents)
    home_care = matters["RJH:RS/730/2017"]
    agreement = next(r for r in home_care.findall(f"{E}record")
                     if r.findtext(f"{E}objectId") == "Hemsjukvårdsavtalet")
    assert agreement.find(f"{E}relation").get("relationType") == "is_replaced_with"
    responses = [r for r in plan.findall(f"{E}record")
                 if r.get("recordType") == "consultation_response"]
    assert len(responses) == 6


def test_a_synthetic_history_archives_with_its_corrections_and_voidings_visible(
    ledger: Ledger, store: tuple[Settings, str | None], tmp_path: Path,
) -> None:
    synthetic(5_000)(ledger)
    output = tmp_path / "archive"
    done = samsyn(store, "archive", str(output), "--cooperation")
    assert done.returncode == 0, done.stderr

    [package] = packages(output)
    erms = check_package(package)
    notes = {n.get("noteType") for n in erms.iter(f"{E}note")}
    assert {"correction", "voiding"} <= notes
    assert erms.find(f".//{E}status[@value='obliterated']") is not None
    kinds = {r.get("recordType") for r in erms.iter(f"{E}record")}
    assert {"decision", "motion", "recommendation", "consultation", "consultation_response",
            "agreement", "assignment", "meeting"} <= kinds
    facts = {int(f.get("position")) for f in erms.iter("{urn:samsyn:archive:1}entry")}
    reference_data = ("Organisation.", "CaseNumber.", "IdempotencyKey.")
    assert facts == {e.position for e in ledger.read_all()
                     if not e.event_type.startswith(reference_data)}


def test_one_organisation_over_a_period(
    ledger: Ledger, store: tuple[Settings, str | None], tmp_path: Path,
) -> None:
    load_demo(ledger)
    output = tmp_path / "archive"
    done = samsyn(store, "archive", str(output), "--organisation", "rjh",
                  "--from", "2021-01-01", "--to", "2021-12-31")
    assert done.returncode == 0, done.stderr
    [package] = packages(output)
    assert package.name == "samsyn-rjh-2021-01-01-2021-12-31"
    erms = check_package(package)
    assert [a.findtext(f"{E}objectId") for a in erms.iter(f"{E}aggregation")
            if a.get("aggregationType") == "caseFile"] == ["RJH:RS/203/2021"]


@pytest.mark.parametrize("arguments, message", [
    (["--organisation", "Nowhere"], "unknown organisation 'Nowhere'"),
    (["--from", "1990-01-01", "--to", "1990-12-31"], "no matters or records to archive"),
    (["--from", "2022-01-01", "--to", "2021-01-01"], "--from is after --to"),
])
def test_bad_input_is_one_line_and_nothing_is_written(
    ledger: Ledger, store: tuple[Settings, str | None], tmp_path: Path,
    arguments: list[str], message: str,
) -> None:
    load_demo(ledger)
    done = samsyn(store, "archive", str(tmp_path / "archive"), *arguments)
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr
    assert not [p for p in tmp_path.iterdir() if "archive" in p.name]


def test_an_unwritable_or_existing_output_is_refused(
    ledger: Ledger, store: tuple[Settings, str | None], tmp_path: Path,
) -> None:
    load_demo(ledger)
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "taken").mkdir()
    for output, message in ((tmp_path / "a-file" / "archive", "cannot write into"),
                            (tmp_path / "taken", "exists")):
        done = samsyn(store, "archive", str(output))
        assert done.returncode == 1
        assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr
    assert not [p for p in tmp_path.iterdir() if "archive" in p.name]
    assert list((tmp_path / "taken").iterdir()) == []
