# SPDX-License-Identifier: Apache-2.0
"""service.state: a notification when a service goes up or down.

Nothing writes when a service goes down: it stops reporting, and it is
judged down when someone looks. So one conductor process per host looks
every ``[conductor] state_check_interval`` seconds (``service.Conductor``),
judges every service as listings do, and compares with what the last
notification said (``notified_state``). A change is written with a
compare-and-set, so that of several conductors judging the same change
only one notifies it. The first judgement of a new service is recorded
without a notification (``service.create`` said it came); a service the
conductor cannot judge (state ``unknown``) keeps its last notified state
until it can.
"""

STATES = {True: 'up', False: 'down'}


def notify_state_changes(dbapi, services, states, notifier):
    """Compare ``services``, just judged ``states``, with what the last
    notifications said; notify each change. Returns the number
    notified."""
    changes, reasons = [], {}
    for service, state in zip(services, states, strict=True):
        judged = STATES.get(state.up)
        if judged is not None and judged != service.notified_state:
            changes.append((service.id, service.notified_state, judged))
            reasons[service.id] = state.reason
    notified = 0
    for service, previous in (dbapi.service_set_notified_states(changes)
                              if changes else ()):
        if previous is not None:
            notifier.state_changed(service, previous, reasons[service.id])
            notified += 1
    return notified
