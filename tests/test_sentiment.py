"""Sentiment: the command line's contract, training, the task's metric, language detection."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from engage.cli import app
from services.listening.sentiment.corpus import read_examples
from services.listening.sentiment.language import detect
from services.listening.sentiment.metrics import polarity_score
from services.listening.sentiment.model import DEFAULT_VERSION, LABELS, SentimentModel
from services.listening.sentiment.text import encode

FIXTURE = Path(__file__).parent / "fixtures" / "sentiment-train.tsv"
SENTIPOLC = Path(__file__).resolve().parents[2] / "shared" / "eval" / "sentipolc14-train.tsv"
LINES = [
    ("7", "Che bella giornata, sono felicissimo!"),
    ("b", "This is a terrible idea and I hate it"),
    ("x1", "Il treno è in ritardo, che schifo"),
    ("42", "Guten Morgen, wie geht es dir?"),
    ("id with spaces", ""),
    ("z", "#Monti"),
]

runner = CliRunner()


def _input(lines: list[tuple[str, str]]) -> bytes:
    return "".join(f"{identifier}\t{text}\n" for identifier, text in lines).encode()


def _printed(output: str) -> list[tuple[str, str]]:
    return [tuple(line.split("\t")) for line in output.splitlines()]  # type: ignore[misc]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model") / "fixture-model"
    result = runner.invoke(app, ["sentiment", "train", "--data", str(FIXTURE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_stdin_lines_get_one_of_four_labels_in_order() -> None:
    result = runner.invoke(app, ["sentiment", "--file", "-"], input=_input(LINES))
    assert result.exit_code == 0, result.output
    printed = _printed(result.stdout)
    assert [identifier for identifier, _ in printed] == [identifier for identifier, _ in LINES]
    assert {label for _, label in printed} <= set(LABELS)
    assert dict(printed)["7"] == "positive"
    assert dict(printed)["b"] == "negative"
    assert dict(printed)["x1"] == "negative"


def test_file_and_stdin_agree(tmp_path: Path) -> None:
    data = tmp_path / "in.tsv"
    data.write_bytes(_input(LINES))
    from_file = runner.invoke(app, ["sentiment", "--file", str(data)])
    # A real process, reading its real standard input.
    from_stdin = subprocess.run(
        [str(Path(sys.executable).parent / "engage"), "sentiment", "--file", "-"],
        input=_input(LINES),
        capture_output=True,
        check=True,
    )
    assert from_file.exit_code == 0
    assert from_stdin.stdout.decode() == from_file.stdout


@pytest.mark.parametrize(
    ("content", "line", "reason"),
    [
        (b"a\tfine\nno tab here\nc\tfine\n", 2, "no tab"),
        (b"a\tfine\n\tno id\n", 2, "empty id"),
        (b"a\tfine\nb\tfine\nc\t\xff\xfe\n", 3, "not UTF-8"),
    ],
)
def test_a_bad_line_exits_2_naming_it(content: bytes, line: int, reason: str) -> None:
    result = runner.invoke(app, ["sentiment", "--file", "-"], input=content)
    assert result.exit_code == 2
    assert f"line {line}: {reason}" in result.stderr
    # The lines before the bad one were labelled.
    assert len(_printed(result.stdout)) == line - 1


def test_a_missing_file_exits_2() -> None:
    result = runner.invoke(app, ["sentiment", "--file", "/nonexistent/input.tsv"])
    assert result.exit_code == 2
    assert "/nonexistent/input.tsv" in result.stderr


def test_training_writes_a_model_that_loads_and_labels(trained: Path) -> None:
    manifest = json.loads((trained / "manifest.json").read_text())
    assert manifest["languages"] == ["it"]
    assert manifest["training_data"]["examples"] == 22
    assert len(manifest["training_data"]["sha256"]) == 64
    assert manifest["trained_at"]
    model = SentimentModel.load(trained)
    labelled = model.label(
        ["Che bella giornata, sono felice", "Servizio pessimo, che schifo", "Guten Tag"]
    )
    assert [item.language for item in labelled] == ["it", "it", None]
    assert all(item.model_version == manifest["version"] for item in labelled[:2])
    assert labelled[0].label == "positive"
    assert labelled[1].label == "negative"
    assert labelled[2].label is None  # undetermined language: no label in the API
    result = runner.invoke(
        app, ["sentiment", "--file", "-", "--model", str(trained)], input=_input(LINES)
    )
    assert result.exit_code == 0
    assert {label for _, label in _printed(result.stdout)} <= set(LABELS)


def test_english_texts_fall_back_to_the_default_model(trained: Path) -> None:
    (labelled,) = SentimentModel.load(trained).label(["I love this, it is wonderful"])
    assert (labelled.language, labelled.label, labelled.model_version) == (
        "en",
        "positive",
        DEFAULT_VERSION,
    )


def test_default_model_scores_and_versions() -> None:
    labelled = SentimentModel.load(None).label(
        ["Un servizio ottimo, bravissimi!", "Non è bello per niente", "What an awful day"]
    )
    assert [item.label for item in labelled] == ["positive", "negative", "negative"]
    assert labelled[0].score is not None
    assert labelled[0].score > 0
    assert {item.model_version for item in labelled} == {DEFAULT_VERSION}


def test_bad_training_data_exits_2(tmp_path: Path) -> None:
    data = tmp_path / "bad.tsv"
    data.write_text("id\tpos\tneg\ttext\n1\t1\t2\tciao\n")
    result = runner.invoke(
        app, ["sentiment", "train", "--data", str(data), "--out", str(tmp_path / "m")]
    )
    assert result.exit_code == 2
    assert "line 2" in result.stderr


def test_polarity_score_by_hand() -> None:
    # Positive: class 1 P = R = 1/2, F 1/2; class 0 P = R = 1/2, F 1/2; mean 1/2.
    # Negative: class 1 P = 1, R = 1/2, F 2/3; class 0 P = 2/3, R = 1, F 4/5; mean 11/15.
    score = polarity_score(
        [True, True, False, False],
        [False, False, True, True],
        [True, False, False, True],
        [False, False, True, False],
    )
    assert score == pytest.approx((1 / 2 + 11 / 15) / 2)


def test_polarity_score_of_a_class_never_predicted() -> None:
    assert polarity_score([True, False], [False, True], [False, False], [False, False]) == (
        pytest.approx((1 / 3 + 1 / 3) / 2)
    )


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Oggi il tempo è bello e andiamo al mare con gli amici", "it"),
        ("Non sono d'accordo con quello che ha detto il ministro", "it"),
        ("La riunione è spostata alle dieci", "it"),
        ("The meeting has been moved to ten o'clock", "en"),
        ("I don't think this is what they wanted", "en"),
        ("We are going to the beach with our friends", "en"),
        ("Der Hund schläft", None),
        ("#Monti", None),
    ],
)
def test_language_detection(text: str, language: str | None) -> None:
    assert detect(encode([text])).detected == [language]


def test_training_reads_the_sentipolc_layout() -> None:
    examples = read_examples(FIXTURE)
    assert len(examples) == 22
    assert (examples[18].positive, examples[18].negative) == (True, True)


@pytest.mark.skipif(not SENTIPOLC.is_file(), reason="../shared/eval is not beside the project")
def test_sentipolc_file_reads() -> None:
    examples = read_examples(SENTIPOLC)
    assert len(examples) > 4000


def test_a_language_the_source_states_is_read_where_detection_cannot_tell() -> None:
    """A short comment holds too few function words to detect its language; the platform that
    gave it says Italian, and the model reads it as Italian. A language it does not read stays
    unlabelled."""
    model = SentimentModel.default()
    comment = ["Weekend perfetto grazie a @sandbox_account_1, consigliatissimo!"]
    [undetected] = model.label(comment)
    assert (undetected.label, undetected.language) == (None, None)
    [stated] = model.label(comment, stated=["it"])
    assert (stated.label, stated.language) == ("positive", "it")
    [foreign] = model.label(comment, stated=["fr"])
    assert foreign.label is None
