#!/usr/bin/env python3
"""report-rows: the rows of one table of a migrate report page (HTML on
standard input, as a browser's --dump-dom gives it), each cell's text
separated by tabs, the header row left out.

    report-rows.py TABLE-ID <page.html"""

import sys
from html.parser import HTMLParser


class Rows(HTMLParser):
    def __init__(self, want):
        super().__init__()
        self.want, self.depth, self.rows = want, 0, []
        self.row, self.cell = None, None

    def handle_starttag(self, tag, attrs):
        if tag == 'table' and dict(attrs).get('id') == self.want:
            self.depth = 1
        elif tag == 'table' and self.depth:
            self.depth += 1
        elif self.depth and tag == 'tr':
            self.row = []
        elif self.depth and tag == 'td' and self.row is not None:
            self.cell = ''

    def handle_endtag(self, tag):
        if tag == 'table' and self.depth:
            self.depth -= 1
        elif self.depth and tag == 'td' and self.cell is not None:
            self.row.append(self.cell.strip())
            self.cell = None
        elif self.depth and tag == 'tr' and self.row is not None:
            if self.row:
                self.rows.append(self.row)
            self.row = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


p = Rows(sys.argv[1])
p.feed(sys.stdin.read())
for r in p.rows:
    print('\t'.join(r))
