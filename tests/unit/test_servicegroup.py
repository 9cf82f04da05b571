# SPDX-License-Identifier: Apache-2.0
import datetime
import logging
import types
from unittest import mock

import pytest
from oslo_utils import timeutils

from sgconductor.servicegroup import api as servicegroup_api
from sgconductor.servicegroup.drivers import db as db_driver

NOW = datetime.datetime(2026, 11, 23, 12, 0, 0)


def service(seconds_ago=None, created_ago=100, forced_down=False):
    last = None if seconds_ago is None else (
        NOW - datetime.timedelta(seconds=seconds_ago))
    return types.SimpleNamespace(
        last_seen_up=last, forced_down=forced_down,
        created_at=NOW - datetime.timedelta(seconds=created_ago))


@pytest.mark.parametrize('seconds_ago,up', [
    (0, True), (59, True), (60, True), (61, False), (3600, False),
    # A last_seen_up in the future (a conductor clock stepped back) is
    # judged by its distance, as Nova does.
    (-30, True), (-3600, False),
])
def test_db_driver_judges_last_seen_up(seconds_ago, up):
    driver = db_driver.DbDriver(service_down_time=60)
    (state,) = driver.get_states([service(seconds_ago)], NOW, NOW)
    assert state.up is up
    assert (state.reason is None) is up


def test_db_driver_falls_back_to_created_at():
    driver = db_driver.DbDriver(service_down_time=60)
    fresh, stale = driver.get_states(
        [service(None, created_ago=10), service(None, created_ago=70)], NOW,
        NOW)
    assert fresh.up and not stale.up
    assert stale.reason == 'no report for 70 s'


def test_forced_down_wins_over_a_fresh_heartbeat(conf):
    api = servicegroup_api.API()
    with mock.patch.object(timeutils, 'utcnow', return_value=NOW):
        states = api.get_states([service(0, forced_down=True), service(0)])
    assert [s.up for s in states] == [False, True]
    assert states[0].reason == 'forced down'


def test_service_down_time_is_clamped_above_report_interval(conf, caplog):
    conf.config(report_interval=10, service_down_time=10)
    caplog.set_level(logging.WARNING)
    assert servicegroup_api.API().service_down_time == 25
    assert 'using 25 s' in caplog.text


def test_sane_service_down_time_is_kept(conf):
    conf.config(report_interval=10, service_down_time=60)
    assert servicegroup_api.API().service_down_time == 60


def test_a_report_from_the_future_says_so():
    driver = db_driver.DbDriver(service_down_time=60)
    (state,) = driver.get_states([service(-3600)], NOW, NOW)
    assert state == (False, 'last report 3600 s in the future')


@pytest.mark.parametrize('seconds_ago,behind,up', [
    # Silent for 90 s, but the conductor has read nothing sent in the
    # last 45 s: it cannot tell yet.
    (90, 45, None),
    # Silent for 200 s: 155 s before what the conductor has read.
    (200, 45, False),
    # A report read meanwhile is a report.
    (10, 45, True),
])
def test_db_driver_suspends_judgement_for_reports_not_read_yet(
        seconds_ago, behind, up):
    driver = db_driver.DbDriver(service_down_time=60)
    read_until = NOW - datetime.timedelta(seconds=behind)
    (state,) = driver.get_states([service(seconds_ago)], NOW, read_until)
    assert state.up is up
    if up is None:
        assert state.reason == ('no report for 90 s, but the conductor may '
                                'not have read every report sent in the '
                                'last 45 s')


def test_api_judges_as_of_now_without_or_with_a_future_read_until(conf):
    conf.config(service_down_time=60)
    api = servicegroup_api.API()
    stale = service(120)
    with mock.patch.object(timeutils, 'utcnow', return_value=NOW):
        for read_until in (None, NOW + datetime.timedelta(hours=1)):
            (state,) = api.get_states([stale], read_until)
            assert state.up is False
