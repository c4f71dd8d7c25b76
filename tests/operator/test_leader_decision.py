"""The pure part of leader election: the decision, the Lease specs it writes, the wire format,
and a simulated cluster of replicas in which two never lead (may write) at once (hypothesis)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelsync.kube.leases import LeaseSpec, format_micro_time, spec_from_json, spec_to_json
from modelsync.runtime.leader_decision import (
    ElectionTiming,
    Sighting,
    Verdict,
    claimed,
    decide,
    released,
    sight,
    write_allowed,
)

TIMING = ElectionTiming()  # 15 s lease, 10 s renew deadline, 2 s retry
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
ME, OTHER = "modelsync-a_1234", "modelsync-b_5678"


def held_by(holder: str | None, duration: int | None = 15) -> LeaseSpec:
    return LeaseSpec(holder=holder, duration_seconds=duration, renew_time=EPOCH, transitions=3)


def verdict(
    spec: LeaseSpec | None,
    *,
    now: float,
    since: float = 0.0,
    renewed_at: float | None = None,
) -> Verdict:
    seen = Sighting(spec, "7" if spec else None, since)
    return decide(seen, identity=ME, now=now, renewed_at=renewed_at, timing=TIMING)


# --- the decision -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "now", "renewed_at", "expected"),
    [
        (None, 0.0, None, Verdict.ACQUIRE),  # no Lease yet
        (held_by(None), 0.0, None, Verdict.ACQUIRE),  # released
        (held_by(OTHER), 14.9, None, Verdict.WAIT),  # alive
        (held_by(OTHER), 15.0, None, Verdict.ACQUIRE),  # expired, judged from our sighting
        (held_by(OTHER, duration=None), 14.9, None, Verdict.WAIT),  # our own duration then
        (held_by(OTHER, duration=3), 3.0, None, Verdict.ACQUIRE),  # the holder's duration
        (held_by(ME), 1.0, 0.0, Verdict.RENEW),
        (held_by(ME), 10.0, 0.0, Verdict.RENEW),  # still within the renew deadline
        (held_by(ME), 10.1, 0.0, Verdict.LOST),  # deadline passed, even though it names us
        (held_by(ME), 5.0, None, Verdict.ACQUIRE),  # ours from an earlier term: take it back
        (held_by(OTHER), 1.0, 0.0, Verdict.LOST),  # taken over
        (held_by(OTHER), 100.0, 99.0, Verdict.LOST),  # taken over, however stale it looks
        (held_by(None), 1.0, 0.0, Verdict.LOST),  # cleared under us
        (None, 1.0, 0.0, Verdict.LOST),  # deleted under us
    ],
)
def test_decide(
    spec: LeaseSpec | None, now: float, renewed_at: float | None, expected: Verdict
) -> None:
    assert verdict(spec, now=now, renewed_at=renewed_at) is expected


def test_expiry_counts_from_when_this_replica_saw_the_change_not_from_renew_time() -> None:
    """A renewTime far in the past (another node's clock) does not make the Lease expired."""
    ancient = LeaseSpec(holder=OTHER, duration_seconds=15, renew_time=EPOCH - timedelta(days=9))
    assert verdict(ancient, now=100.0, since=90.0) is Verdict.WAIT
    assert verdict(ancient, now=105.0, since=90.0) is Verdict.ACQUIRE


def test_a_sighting_lasts_while_the_lease_is_unchanged() -> None:
    first = sight(None, held_by(OTHER), "7", 1.0)
    assert sight(first, held_by(OTHER), "7", 5.0) is first
    renewed = sight(first, held_by(OTHER), "8", 5.0)  # any write, even an identical spec
    assert renewed.since == 5.0
    assert sight(renewed, None, None, 6.0) == Sighting(None, None, 6.0)


@given(
    spec=st.none() | st.builds(held_by, st.sampled_from([None, ME, OTHER]), st.integers(1, 60)),
    now=st.floats(0, 1000),
    since=st.floats(0, 1000),
    renewed_ago=st.none() | st.floats(0, 100),
)
def test_a_leader_past_its_deadline_always_stops_and_only_leaders_lose(
    spec: LeaseSpec | None, now: float, since: float, renewed_ago: float | None
) -> None:
    renewed_at = None if renewed_ago is None else now - renewed_ago
    found = verdict(spec, now=now, since=since, renewed_at=renewed_at)
    if renewed_ago is not None and renewed_ago > TIMING.renew_deadline:
        assert found is Verdict.LOST
    if renewed_at is None:
        assert found in (Verdict.ACQUIRE, Verdict.WAIT)
    else:
        assert found in (Verdict.RENEW, Verdict.LOST)


# --- timing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lease", "renew", "retry"),
    [(10, 10, 2), (15, 10, 0), (15, 2.4, 2), (15, 10, -1), (5, 10, 2)],
)
def test_timing_that_cannot_work_is_refused(lease: float, renew: float, retry: float) -> None:
    with pytest.raises(ValueError, match="leader election"):
        ElectionTiming(lease, renew, retry)


def test_lease_duration_is_written_in_whole_seconds_rounded_up() -> None:
    assert ElectionTiming().lease_duration_seconds == 15
    assert ElectionTiming(1.5, 1.4, 0.3).lease_duration_seconds == 2


# --- what gets written ----------------------------------------------------------------------


def test_a_new_holder_counts_a_transition_and_a_renewal_keeps_the_term() -> None:
    now = EPOCH + timedelta(seconds=30)
    created = claimed(None, identity=ME, now=EPOCH, timing=TIMING)
    assert created == LeaseSpec(ME, 15, EPOCH, EPOCH, 0)
    renewed = claimed(created, identity=ME, now=now, timing=TIMING)
    assert renewed == LeaseSpec(ME, 15, EPOCH, now, 0)
    taken = claimed(renewed, identity=OTHER, now=now, timing=TIMING)
    assert taken == LeaseSpec(OTHER, 15, now, now, 1)
    given_up = released(taken, now=now)
    assert given_up == LeaseSpec(None, 1, now, now, 1)
    assert claimed(given_up, identity=ME, now=now, timing=TIMING).transitions == 2


_TIMES = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
_SPECS = st.builds(
    LeaseSpec,
    holder=st.none() | st.from_regex(r"[a-z0-9-]{1,20}_[0-9a-f]{8}", fullmatch=True),
    duration_seconds=st.none() | st.integers(1, 3600),
    acquire_time=st.none() | _TIMES,
    renew_time=st.none() | _TIMES,
    transitions=st.integers(0, 10**6),
)


@given(_SPECS)
def test_specs_survive_the_wire(spec: LeaseSpec) -> None:
    assert spec_from_json(spec_to_json(spec)) == spec


@given(_TIMES)
def test_micro_times_always_have_six_fraction_digits(value: datetime) -> None:
    text = format_micro_time(value)
    assert text.endswith("Z")
    assert len(text.rsplit(".", 1)[1]) == len("000000Z")


def test_foreign_and_broken_lease_fields_read_as_absent() -> None:
    assert spec_from_json(None) == LeaseSpec()
    broken = {"holderIdentity": "", "leaseDurationSeconds": True, "renewTime": "yesterday"}
    assert spec_from_json(broken) == LeaseSpec()
    written_by_go = {"acquireTime": "2025-01-01T00:00:00.000000Z", "leaseTransitions": 2}
    assert spec_from_json(written_by_go) == LeaseSpec(acquire_time=EPOCH, transitions=2)


# --- a simulated cluster: never two leaders ---------------------------------------------------
#
# Three replicas run the election loop: every step some time passes and each live replica
# does a round (read, decide, write) in an order hypothesis picks. Hypothesis also disrupts
# them: a replica's requests fail for a while (partition), its write stays in flight and
# lands later (after others wrote: refused, optimistic concurrency; after its own deadline:
# it lands but the replica has stopped leading), it crashes (its write in flight may still
# land), it shuts down cleanly (stops, then
# releases the Lease) or it freezes (a blocked event loop: no round, so it still believes it
# leads, until it thaws). After every step at most one replica's write fence is open.

SIM_TIMING = ElectionTiming(15.0, 10.0, 2.0)


@dataclass
class Server:
    spec: LeaseSpec | None = None
    version: int = 0
    holder_changes: int = 0


@dataclass
class Pending:
    read_version: int | None
    spec: LeaseSpec
    sent: float
    renewed_before: float | None


@dataclass
class Replica:
    identity: str
    alive: bool = True
    partitioned: bool = False
    frozen: bool = False
    seen: Sighting | None = None
    renewed_at: float | None = None
    pending: Pending | None = field(default=None)

    def leading(self, now: float) -> bool:
        renewed = self.renewed_at
        return renewed is not None and now - renewed <= SIM_TIMING.renew_deadline


def _read(replica: Replica, server: Server, now: float) -> None:
    """Read, decide, and send the write (it lands in _land)."""
    if replica.renewed_at is not None and not replica.leading(now):
        replica.renewed_at = None  # the loop wakes up at its deadline and stops
    if not replica.alive or replica.partitioned or replica.pending is not None:
        return
    version = str(server.version) if server.spec is not None else None
    replica.seen = sight(replica.seen, server.spec, version, now)
    found = decide(
        replica.seen,
        identity=replica.identity,
        now=now,
        renewed_at=replica.renewed_at,
        timing=SIM_TIMING,
    )
    if found is Verdict.LOST:
        replica.renewed_at = None
    elif found in (Verdict.ACQUIRE, Verdict.RENEW):
        wanted = claimed(
            server.spec,
            identity=replica.identity,
            now=EPOCH + timedelta(seconds=now),
            timing=SIM_TIMING,
        )
        read_version = server.version if server.spec is not None else None
        replica.pending = Pending(read_version, wanted, now, replica.renewed_at)


def _land(replica: Replica, server: Server, now: float) -> None:
    pending, replica.pending = replica.pending, None
    if pending is None:
        return
    current = server.version if server.spec is not None else None
    applied = current == pending.read_version
    if applied:
        old = server.spec
        if old is not None and old.holder != pending.spec.holder:
            server.holder_changes += 1
        server.spec = pending.spec
        server.version += 1
    if not replica.alive:
        return
    renewed = pending.renewed_before
    if renewed is not None and now - renewed > SIM_TIMING.renew_deadline:
        replica.renewed_at = None  # the round was cut off at the deadline
    elif applied:
        replica.renewed_at = pending.sent
        replica.seen = Sighting(pending.spec, str(server.version), now)


def _shut_down(replica: Replica, server: Server, now: float) -> None:
    if not replica.alive:
        return
    replica.alive = False
    leading, replica.renewed_at = replica.leading(now), None
    ours = server.spec is not None and server.spec.holder == replica.identity
    if leading and ours and not replica.partitioned and server.spec is not None:
        server.spec = released(server.spec, now=EPOCH + timedelta(seconds=now))
        server.version += 1


def _disrupt(replica: Replica, server: Server, now: float, what: str) -> bool:
    """Apply a disruption; True: the replica skips its round this step."""
    if what == "partition":
        replica.partitioned = True
    elif what == "heal":
        replica.partitioned = False
    elif what == "land":
        _land(replica, server, now)
    elif what == "crash":
        replica.alive = False
        replica.renewed_at = None  # its write in flight, if any, may still land
    elif what == "shut down":
        _shut_down(replica, server, now)
    elif what == "freeze":
        replica.frozen = True
    elif what == "thaw":
        replica.frozen = False
    return what == "slow"


# Mostly undisturbed steps; crashes and shutdowns rare enough that replicas stay around.
_DISRUPTIONS = st.sampled_from(
    ["partition"] * 3
    + ["heal"] * 3
    + ["slow"] * 3
    + ["land"] * 2
    + ["freeze"] * 3  # thawing is rarer: a freeze must outlast a Lease to matter
    + ["thaw"]
    + ["crash", "shut down"]
)
_STEPS = st.lists(
    st.tuples(
        # seconds that pass first: around the retry period (with jitter) and beyond
        st.sampled_from([0.0, 0.001, 0.3, 1.0, 2.0, 2.0, 2.0, 2.4, 5.0]),
        st.permutations([0, 1, 2]),  # the order of this step's rounds
        st.lists(st.tuples(st.integers(0, 2), _DISRUPTIONS), max_size=1) | st.just([]),
    ),
    max_size=40,
)


def simulate(
    steps: list[tuple[float, list[int], list[tuple[int, str]]]],
    replicas: list[Replica] | None = None,
) -> Server:
    server = Server()
    if replicas is None:
        replicas = [Replica(f"replica-{i}_{i:08x}") for i in range(3)]
    now = 0.0
    for elapsed, order, disruptions in steps:
        now += elapsed
        skip = {who for who, what in disruptions if _disrupt(replicas[who], server, now, what)}
        for who in order:
            replica = replicas[who]
            if replica.frozen:  # no round: it keeps believing what it believed
                continue
            if who in skip:  # slow: sends its write, which stays in flight
                _read(replica, server, now)
                continue
            _land(replica, server, now)  # anything in flight lands before the next round
            _read(replica, server, now)
            if not replica.partitioned:
                _land(replica, server, now)
            fence = SIM_TIMING.renew_deadline
            writers = [r.identity for r in replicas if write_allowed(r.renewed_at, now, fence)]
            assert len(writers) <= 1, (now, writers)
    return server


@settings(max_examples=300, deadline=None)
@given(_STEPS)
def test_simulated_replicas_never_lead_at_once(
    steps: list[tuple[float, list[int], list[tuple[int, str]]]],
) -> None:
    server = simulate(steps)
    if server.spec is not None:
        assert server.spec.transitions == server.holder_changes


def test_the_simulation_elects_and_fails_over() -> None:
    """The property above is not vacuous: leaders get elected, and replaced after a crash
    (once the Lease expires) or a clean shutdown (at the next round)."""
    order = [0, 1, 2]
    server = simulate([(0.0, order, [])])
    assert server.spec is not None
    assert (server.spec.holder, server.spec.transitions) == ("replica-0_00000000", 0)
    crash = [(0.0, order, []), (1.0, order, [(0, "crash")])]
    server = simulate(crash + [(2.0, order, [])] * 6)  # 13 s after the last renewal: not yet
    assert server.spec is not None
    assert server.spec.holder == "replica-0_00000000"
    server = simulate(crash + [(2.0, order, [])] * 7)  # 15 s: expired
    assert server.spec is not None
    assert (server.spec.holder, server.spec.transitions) == ("replica-1_00000001", 1)
    server = simulate([(0.0, order, []), (1.0, order, [(0, "shut down")])])
    assert server.spec is not None
    assert (server.spec.holder, server.spec.transitions) == ("replica-1_00000001", 1)


def test_a_frozen_leader_believes_it_leads_but_its_fence_is_closed() -> None:
    """Why the fence goes by the clock: a leader whose loop cannot run (frozen) still holds
    `renewed_at` when another replica takes over; only the deadline keeps it from writing."""
    order = [0, 1, 2]
    freeze = [(0.0, order, []), (1.0, order, [(0, "freeze")])]
    replicas = [Replica(f"replica-{i}_{i:08x}") for i in range(3)]
    server = simulate(freeze + [(2.0, order, [])] * 8, replicas)  # 17 s later: taken over
    assert server.spec is not None
    assert (server.spec.holder, server.spec.transitions) == ("replica-1_00000001", 1)
    frozen, leader = replicas[0], replicas[1]
    now = 17.0
    assert frozen.renewed_at == 0.0, "the frozen replica never noticed"
    assert not write_allowed(frozen.renewed_at, now, SIM_TIMING.renew_deadline)
    assert write_allowed(leader.renewed_at, now, SIM_TIMING.renew_deadline)
