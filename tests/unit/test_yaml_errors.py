"""YAML syntax errors name where the parser noticed and where the construct it was reading opened."""

from __future__ import annotations

import pytest
import yaml

from podium.kube.manifests import ManifestError, parse_manifests
from podium.yaml_errors import YamlProblem, describe_yaml_error

LOADERS: dict[str, type[yaml.CSafeLoader] | type[yaml.SafeLoader]] = {
    "libyaml": yaml.CSafeLoader,
    "pyyaml": yaml.SafeLoader,
}


def error_of(text: str, loader: str) -> yaml.YAMLError:
    with pytest.raises(yaml.YAMLError) as caught:
        list(yaml.compose_all(text, Loader=LOADERS[loader]))
    return caught.value


@pytest.mark.parametrize(
    ("loader", "text", "expected"),
    [
        (
            "libyaml",
            "a: 1\nb:\n  depends_on: [oven\n",
            "line 4:1: did not find expected ',' or ']' "
            "(the flow sequence that opened at line 3:15 is not closed)",
        ),
        (
            "pyyaml",
            "a: 1\nb:\n  depends_on: [oven\n",
            "line 4:1: expected ',' or ']', but got '<stream end>' "
            "(the flow sequence that opened at line 3:15 is not closed)",
        ),
        (
            "libyaml",
            "a: {b: 1\n",
            "line 2:1: did not find expected ',' or '}' "
            "(the flow mapping that opened at line 1:4 is not closed)",
        ),
        (
            "pyyaml",
            'a: "abc\nb: 2\n',
            "line 3:1: found unexpected end of stream "
            "(the quoted scalar that opened at line 1:4 is not closed)",
        ),
        (
            "libyaml",
            "a:\n  b: 1\n c: 2\n",
            "line 3:2: did not find expected key (in the block mapping that starts at line 1:1)",
        ),
        (
            "pyyaml",
            "env:\n  - name: s\n   bad: y\n",
            "line 3:4: expected <block end>, but found '<block mapping start>' "
            "(in the block collection that starts at line 2:3)",
        ),
        (
            "pyyaml",
            "a: &x 1\nb: &x 2\n",
            "line 2:4: second occurrence (found duplicate anchor 'x'; first occurrence at line 1:4)",
        ),
        # the context is where the problem is: said once
        ("libyaml", "a:\n\tb: 1\n", "line 2:1: found character that cannot start any token"),
        # no context at all
        ("pyyaml", "a: *x\n", "line 1:4: found undefined alias 'x'"),
        ("libyaml", "a: b: c\n", "line 1:5: mapping values are not allowed in this context"),
    ],
)
def test_describe_yaml_error(loader: str, text: str, expected: str) -> None:
    assert str(describe_yaml_error(error_of(text, loader))) == expected


def test_an_error_without_marks_keeps_its_own_text() -> None:
    with pytest.raises(yaml.YAMLError) as caught:
        yaml.safe_load("a: \x00")
    problem = describe_yaml_error(caught.value)
    assert (problem.line, problem.column) == (None, None)
    assert problem.message.startswith("unacceptable character #x0000")
    assert str(YamlProblem("plain")) == "plain"


def test_a_broken_manifest_names_its_file_and_both_lines() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata:\n  keys: [a, b\n"
    with pytest.raises(ManifestError) as caught:
        parse_manifests(text, origin="include/manifests/settings.yaml")
    assert str(caught.value) == (
        "include/manifests/settings.yaml: not valid YAML: line 6:1: expected ',' or ']', but got "
        "'<stream end>' (the flow sequence that opened at line 5:9 is not closed)"
    )
