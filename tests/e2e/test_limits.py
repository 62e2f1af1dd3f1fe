"""End-to-end: inputs at and past Herald's size limits go through the real pipeline
(herald-producer -> herald-devbroker -> herald-consumer + redis -> herald-slackd).

Issue 11 item 15: a ProwJob whose name is just under the 4,096-byte field limit made an
event id over it; the producer published it and exited 0, and every consumer refused
it, so the failure never alerted. Ids are now at most 256 bytes (a long name is cut
and followed by a hash of the whole name), and the producer checks every event with
the consumers' own parser before publishing it.

Run from the repository root:
    HERALD_BIN=bin python3 -m unittest tests/e2e/test_limits.py -v
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import HeraldTestCase, fields_of  # noqa: E402

WAIT = 30.0


class LongIdTest(HeraldTestCase):

    def test_long_prowjob_names_alert(self):
        t = harness.base_time()
        # Two failures whose names share their first 4,000 bytes, one ordinary one.
        a = harness.finished_run("lambda-post-submit", "lambda-controller", t)
        b = harness.finished_run("s3-post-submit", "s3-controller", t + 60, seq=1)
        c = harness.finished_run("ec2-post-submit", "ec2-controller", t + 120, seq=2)
        a["metadata"]["name"] = "n" * 4000 + "a" * 90
        b["metadata"]["name"] = "n" * 4000 + "b" * 90
        consumer = self.start_consumer()
        rc, out, err = self.produce([a, b, c])
        summary = harness.producer_summary(out)
        self.assertEqual(summary, {"read": 3, "published": 3, "rejected": 0,
                                   "undelivered": 0}, out + err)
        msgs = self.wait_for(3, "releases", WAIT)
        msgs = self.assert_quiet(3)
        jobs = sorted(fields_of(m).get("job") for m in msgs)
        mt = consumer.metrics()
        rejected = mt.sum("herald_events_rejected_total")
        print("\n  long ids: expected 3 / delivered %d / rejected by the consumer %d"
              % (len(msgs), rejected))
        self.assertEqual(jobs, ["ec2-post-submit", "lambda-post-submit", "s3-post-submit"])
        self.assertEqual(rejected, 0, mt.get("herald_events_rejected_total"))
        self.assertEqual(mt.sum("herald_events_consumed_total", state="failure"), 3)


if __name__ == "__main__":
    unittest.main()
