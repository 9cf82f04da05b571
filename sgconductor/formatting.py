# SPDX-License-Identifier: Apache-2.0
"""Tables of services as operators read them (CLI, demo)."""

import json

import prettytable

LIST_COLUMNS = [
    ('Id', 'id'), ('Binary', 'binary'), ('Host', 'host'), ('Zone', 'zone'),
    ('Status', 'status'), ('State', 'state'), ('Updated At', 'updated_at'),
    ('Disabled Reason', 'disabled_reason'), ('Forced Down', 'forced_down'),
    ('Version', 'version'), ('Last Seen Up', 'last_seen_up'),
    ('Clock Skew', 'clock_skew'),
]


def print_table(headers, rows):
    table = prettytable.PrettyTable(headers)
    table.align = 'l'
    for row in rows:
        table.add_row(['-' if value is None else value for value in row])
    print(table)


def print_services(services, fmt):
    if fmt == 'json':
        print(json.dumps(services, indent=2))
        return
    print_table([header for header, _ in LIST_COLUMNS],
                [[s[key] for _, key in LIST_COLUMNS] for s in services])
