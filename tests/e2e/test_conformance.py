"""Model conformance: for every operation of the pinned botocore model and every constraint in
it (required, min, max, pattern, enum, integer range, list and map bounds, map keys), a request
that violates exactly that constraint is sent with client-side validation off and must answer
ValidationException; the same operation with a valid request must not. The cases are derived
from the model itself, so a constraint added to the model is a new case here."""

import re
import uuid

import botocore.session
import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

MODEL = botocore.session.get_session().get_service_model("gameliftstreams")

SAMPLES = {
    "Arn": "arn:aws:gameliftstreams:us-west-2:111122223333:application/a-000000000",
    "Description": "valid description",
    "ExecutablePath": "Game/Game.exe",
    "ApplicationSourceUri": "s3://conformance-bucket/game/",
    "ApplicationLogOutputUri": "s3://conformance-bucket/logs/",
    "OutputUri": "s3://conformance-bucket/exports/",
    "RuntimeEnvironmentVersion": "20241007",
    "LocationName": "us-west-2",
    "IamRoleArn": "arn:aws:iam::111122223333:role/GameLiftStreams-Conformance",
    "Ipv4CidrBlock": "10.0.0.0/16",
    "VpcId": "vpc-0123456789",
    "UserId": "player-1",
    "SignalRequest": "offer",
    "TagKey": "team",
    "EnvironmentVariablesKeyString": "GAME_MODE",
    "Identifier": "x-000000000",
}
BAD_STRINGS = ["#", " ", "bad value!", "a b", "ÿ", "1", "-", "s3://x"]


def sample(shape, name=None):
    """A valid value of `shape` (required members only, for structures)."""
    t = shape.type_name
    if t == "structure":
        return {m: sample(shape.members[m], m) for m in shape.required_members}
    if t == "list":
        n = max(shape.metadata.get("min", 1), 1)
        return [sample(shape.member) for _ in range(n)][: max(n, 1)]
    if t == "map":
        return {sample(shape.key): sample(shape.value)}
    if t == "string":
        if shape.enum:
            return shape.enum[0]
        if shape.name == "ClientToken":
            return str(uuid.uuid4())
        if shape.name in SAMPLES:
            return SAMPLES[shape.name]
        lo = shape.metadata.get("min", 0)
        return "v" * max(lo, 1)
    if t in ("integer", "long"):
        lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
        v = 10 if lo is None else max(lo, 1) if lo < 1 else lo
        if shape.name in ("ResolutionWidth", "ResolutionHeight"):
            v = 640
        return min(v, hi) if hi is not None else v
    if t == "boolean":
        return False
    raise AssertionError(t)


def bad_pattern(shape):
    lo, hi = shape.metadata.get("min", 0), shape.metadata.get("max", 10_000)
    for c in BAD_STRINGS:
        cand = c + "a" * max(0, lo - len(c))
        if lo <= len(cand) <= hi and not re.fullmatch(shape.metadata["pattern"], cand):
            return cand
    raise AssertionError("no violating sample for " + shape.name)


def violations(shape, where):
    """(description, value) pairs: each breaks one constraint of `shape` itself."""
    m = shape.metadata
    t = shape.type_name
    out = []
    if t == "string":
        if m.get("min", 0) > 0:
            out.append(("min length %d" % m["min"], "v" * (m["min"] - 1)))
        if "max" in m:
            out.append(("max length %d" % m["max"], "v" * (m["max"] + 1)))
        if "pattern" in m:
            out.append(("pattern", bad_pattern(shape)))
        if shape.enum:
            out.append(("enum", "NOT_A_MODELED_VALUE"))
    elif t in ("integer", "long"):
        if "min" in m:
            out.append(("min %d" % m["min"], m["min"] - 1))
        if "max" in m:
            out.append(("max %d" % m["max"], m["max"] + 1))
    elif t == "list":
        item = sample(shape.member)
        if m.get("min", 0) > 0:
            out.append(("min items %d" % m["min"], [item] * (m["min"] - 1)))
        if "max" in m:
            out.append(("max items %d" % m["max"], [sample(shape.member) for _ in range(m["max"] + 1)]))
    elif t == "map":
        if m.get("min", 0) > 0:
            out.append(("min entries %d" % m["min"], {}))
        if "max" in m:
            key = sample(shape.key)
            out.append(("max entries %d" % m["max"], {"%s%d" % (key, i): sample(shape.value) for i in range(m["max"] + 1)}))
    return out


def cases_for(op_name):
    """Every (constraint id, params) violating case of an operation."""
    op = MODEL.operation_model(op_name)
    shape = op.input_shape
    base = sample(shape)
    cases = []

    def walk(struct_shape, path, build):
        # build(value_or_MISSING) -> full params with this structure's slot replaced
        for name, member in struct_shape.members.items():
            p = path + [name]
            label = ".".join(p)
            is_uri = member.serialization.get("location") == "uri" and struct_shape is shape

            def with_member(value, name=name):
                s = sample(struct_shape)
                if value is MISSING:
                    s.pop(name, None)
                else:
                    s[name] = value
                return build(s)

            # A required query-string list with no minimum: clients send no parameter for an
            # empty list, so "absent" and "[]" are the same request on the wire and both valid.
            wire_empty = (
                member.serialization.get("location") == "querystring"
                and member.type_name == "list"
                and member.metadata.get("min", 0) == 0
            )
            if name in struct_shape.required_members and not wire_empty:
                if is_uri:
                    cases.append((label + ": required (empty label)", with_member("")))
                else:
                    cases.append((label + ": required", with_member(MISSING)))
            for desc, value in violations(member, label):
                cases.append((label + ": " + desc, with_member(value)))
            walk_value(member, p, with_member)

    def walk_value(s, p, set_value):
        if s.type_name == "structure":
            walk(s, p, lambda v: set_value(v))
        elif s.type_name == "list":
            walk_value(s.member, p + ["member"], lambda v: set_value([v]))
        elif s.type_name == "map":
            for desc, kv in violations(s.key, ".".join(p + ["key"])):
                cases.append((".".join(p + ["key"]) + ": " + desc, set_value({kv: sample(s.value)})))
            for desc, vv in violations(s.value, ".".join(p + ["value"])):
                cases.append((".".join(p + ["value"]) + ": " + desc, set_value({sample(s.key): vv})))

    walk(shape, [], lambda s: s)
    return base, cases


MISSING = object()
OPERATIONS = sorted(MODEL.operation_names)
ALL_CASES = [(op, desc, params) for op in OPERATIONS for desc, params in cases_for(op)[1]]


@pytest.fixture(scope="module")
def raw(server):
    return server.client(validate=False)


def call(client, op, params):
    try:
        getattr(client, xform_name(op))(**params)
        return None
    except ClientError as e:
        return e.response["Error"]["Code"]


@pytest.mark.parametrize("op", OPERATIONS)
def test_a_valid_request_is_not_a_validation_error(raw, op):
    base, _ = cases_for(op)
    code = call(raw, op, base)
    assert code != "ValidationException", "%s %r" % (op, base)


@pytest.mark.parametrize("op,desc,params", ALL_CASES, ids=["%s %s" % (o, d) for o, d, _ in ALL_CASES])
def test_each_constraint_is_enforced(raw, op, desc, params):
    assert call(raw, op, params) == "ValidationException", params


def test_coverage_is_reported(capsys):
    per_op = {op: len(cases_for(op)[1]) for op in OPERATIONS}
    assert len(per_op) == 30 and all(n > 0 for op, n in per_op.items() if MODEL.operation_model(op).input_shape.members)
    with capsys.disabled():
        print("\nconformance: %d constraint cases over %d operations of the model" % (len(ALL_CASES), len(per_op)))
