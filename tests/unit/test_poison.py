# SPDX-License-Identifier: Apache-2.0
"""Property-based: whatever reaches the reports queue, the intake keeps
going and stores nothing it should not.

Each example goes through the real intake's batch handling
(``ReportIntake._handle``) and the real writer on SQLite, exactly as
deliveries from the broker do (the broker itself is in
tests/functional/test_malformed_reports.py).
"""

import json
import uuid

import pytest
from hypothesis import HealthCheck
from hypothesis import assume
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from sgconductor import version
from sgconductor.conductor import deliveries
from sgconductor.conductor import intake
from sgconductor.conductor import manager
from sgconductor.conductor import progress
from sgconductor.conductor import reports
from sgconductor.conductor import validation
from sgconductor.db import api as db_api
from tests.inprocess import envelope
from tests.inprocess import report

MISSING = object()

# Finite floats: NaN and infinities are not JSON, so an envelope holding
# them is poison before it is a report (the raw bodies below have them).
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
NOT_A_STRING = st.one_of(
    st.integers(), FLOATS, st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3))
BAD_NAME = st.one_of(
    NOT_A_STRING, st.just(''),
    st.text(min_size=validation.MAX_NAME + 1,
            max_size=validation.MAX_NAME + 50),
    # a control character anywhere, or white space around
    st.tuples(st.text(max_size=10), st.characters(max_codepoint=0x1f),
              st.text(max_size=10)).map(''.join),
    st.text(min_size=1, max_size=10).map(lambda name: ' ' + name),
    st.text(min_size=1, max_size=10).map(lambda name: name + '\t'))
BAD_VERSION = st.one_of(
    st.none(), st.booleans(), FLOATS, st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.integers(max_value=version.OLDEST_SUPPORTED_SERVICE_VERSION - 1),
    st.integers(min_value=validation.MAX_VERSION + 1))


def _not_a_uuid(value):
    try:
        uuid.UUID(value)
    except (TypeError, ValueError, AttributeError):
        return True
    return False


BAD_UUID = st.one_of(NOT_A_STRING, st.text(max_size=40)).filter(_not_a_uuid)
# (field, a value it must not have); MISSING removes the field.
BROKEN_FIELD = st.one_of(
    st.tuples(st.sampled_from(['host', 'binary']),
              st.one_of(st.none(), st.just(MISSING), BAD_NAME)),
    st.tuples(st.sampled_from(['topic', 'availability_zone']), BAD_NAME),
    st.tuples(st.just('version'), st.one_of(st.just(MISSING), BAD_VERSION)),
    st.tuples(st.just('uuid'), BAD_UUID),
    st.tuples(st.text(min_size=1, max_size=20).filter(
        lambda name: name not in validation.REPORT_FIELDS), st.integers()))

JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
              st.text(max_size=20)),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=10), children, max_size=4)),
    max_leaves=12)
# What else a queue can carry: any bytes, any JSON, envelopes whose
# message is not JSON, has no method or another one, odd arguments.
RAW_BODY = st.one_of(
    st.binary(max_size=300),
    JSON.map(lambda value: json.dumps(value).encode()),
    st.text(max_size=50).map(lambda message: json.dumps(
        {'oslo.version': '2.0', 'oslo.message': message}).encode()),
    st.tuples(st.sampled_from(['report_state', 'register_service', 'x']),
              st.dictionaries(st.text(max_size=10), JSON, max_size=4),
              st.one_of(st.just('1.0'), st.text(max_size=5))).map(
        lambda call: envelope(method=call[0], args=call[1],
                              version=call[2])))

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@pytest.fixture
def reports_intake(db):
    writer = reports.ReportWriter(db_api.get_instance())
    return intake.ReportIntake(writer.take, progress.IntakeProgress('unit'),
                               'topic', manager.RPC_API_VERSION, 10)


def handle(reports_intake, bodies):
    """Hand ``bodies`` over as one batch from the broker: nothing stored,
    each of them counted as dropped, refused, or dispatched as a stock
    server would (dispatch.py). Returns the intake's counts."""
    reports_intake.counts.clear()
    batch = [deliveries.Delivery(tag, body, False, {})
             for tag, body in enumerate(bodies)]
    reports_intake._handle(batch)
    counts = reports_intake.counts
    assert counts['received'] == len(bodies)
    assert (counts['poison'] + counts['refused'] + counts['dispatched']
            == len(bodies)), dict(counts)
    dbapi = db_api.get_instance()
    assert dbapi.service_get_all() == []
    assert dbapi.service_count_reports() == 0
    return counts


@SETTINGS
@given(broken=st.lists(BROKEN_FIELD, min_size=1, max_size=3))
def test_a_report_with_any_wrong_field_changes_nothing(reports_intake,
                                                       broken):
    payload = dict(report('cn1'), uuid=str(uuid.uuid4()))
    for field, value in broken:
        if value is MISSING:
            payload.pop(field, None)
        else:
            payload[field] = value
    # Read as a report, and refused by the writer.
    assert handle(reports_intake, [envelope(args=payload)])['refused'] == 1


@SETTINGS
@given(bodies=st.lists(RAW_BODY, min_size=1, max_size=5))
def test_anything_else_on_the_queue_changes_nothing(reports_intake, bodies):
    # A valid report is not what this test is about (and is unlikely).
    assume(not any(_valid_report(body) for body in bodies))
    handle(reports_intake, bodies)


def _valid_report(body):
    """True if ``body`` is a report_state cast of a valid report."""
    try:
        message = json.loads(json.loads(body)['oslo.message'])
        if message['method'] == 'report_state':
            validation.check_report(message['args'])
            return True
    except Exception:
        pass
    return False
