"""The ingest log: who added each trailer, and a line torn by a crash skipped."""

from __future__ import annotations

from mmx.ingests import IngestLog


def test_ingest_log_records_who_and_survives_a_torn_line(tmp_path):
    log = IngestLog(tmp_path)
    log.record("a", "ana", "a.mp4")
    with open(log.path, "ab") as f:
        f.write(b'{"trailer_id": "torn')
    assert [e.trailer_id for e in log.entries()] == ["a"]
    log.record("b", None, "b.mp4")
    assert [(e.trailer_id, e.user) for e in log.entries()] == [("a", "ana"), ("b", None)]
