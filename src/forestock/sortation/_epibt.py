# mypy: disable-error-code="no-untyped-def"
# (numba kernels, typed by numba, checked against the oracle in tests/sortation)
"""numba kernels of EPIBT: PIBT over short operations of three or four actions (rotation model).

EPIBT (the 2024 League of Robot Runners winner's planner, "enhanced PIBT")
plans each robot a whole operation, three or four actions of the rotation
model (``F`` forward, ``R`` turn clockwise, ``C`` turn counter-clockwise,
``W`` wait), from a fixed list (:data:`OPERATIONS`, :data:`OPERATIONS_4`),
and checks it for vertex and swap conflicts at each of its steps against
the operations of every other robot. Every robot starts waiting throughout
(``WWW``); robots are then built in priority order: a robot takes its best
operation that collides with no robot, or with exactly one robot not yet
built in this pass, which is evicted and built in turn without the choice
it had (priority inheritance); if the evicted robot finds nothing, the next
operation is tried (backtracking). Several passes over the robots let each
revise its operation against the others' latest ones. Only an operation's
first action is executed (where it starts by turning or waiting in place,
the turn or wait that leaves the robot facing best); the next step plans
afresh.

An operation is ranked by where it leaves the robot: the distance to the
goal from its last cell, plus the turns its last heading needs (waits at
the end of an operation may have been turns, and count as such); an
operation that reaches the goal beats any that does not, the earlier the
better. Cells are dense ids of the free cells; ``nbr`` and ``cost`` are the
planner's move graph and move costs (:mod:`forestock.sortation._kernels`).

After the passes, a large neighbourhood search (the winner's EPIBT+LNS,
:func:`_lns`) rebuilds robots drawn at random, skipping evictions at random,
and keeps the new operations when the robots' rank keys, weighted towards
the first in priority, do not get worse in sum. It draws from a 32-bit
xorshift seeded by the caller and runs a set number of attempts (not a
clock), so a run is the same on any machine.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from forestock.sortation._kernels import C_ACT, F_ACT, R_ACT, UNREACH, W_ROT

__all__ = ["DEPTHS", "OPERATIONS", "OPERATIONS_4", "epibt_step", "gather_patch",
           "operation_codes", "operations", "patch_offsets"]

#: The operations of three actions, as the 2024 winner lists them (``WWW`` first;
#: later ones win ties, so moving early beats moving late).
OPERATIONS = ("WWW", "RRF", "RWF", "CWF", "WWF", "RFW", "CFW", "WFW", "RFF", "CFF", "FWW",
              "WFF", "FRF", "FCF", "FWF", "FFW", "FFF")
#: The winner's 48 operations of four actions (its ``epibt(4)``), in its order: the 17
#: above with a wait appended, and 31 that act at the fourth step.
OPERATIONS_4 = ("WWWW", "RRWF", "RWWF", "CWWF", "WWWF", "RRFW", "RWFW", "CWFW", "WWFW", "RRFF",
                "RFWW", "RWFF", "CFWW", "CWFF", "WFWW", "WWFF", "RFRF", "RFCF", "CFRF", "CFCF",
                "RFWF", "CFWF", "WFRF", "WFCF", "FWWW", "WFWF", "FRRF", "RFFW", "CFFW", "FRWF",
                "FCWF", "FWWF", "WFFW", "RFFF", "CFFF", "FRFW", "FCFW", "FWFW", "WFFF", "FRFF",
                "FCFF", "FFWW", "FWFF", "FFRF", "FFCF", "FFWF", "FFFW", "FFFF")
#: The operation lengths there are lists of.
DEPTHS = (3, 4)
_CODE = {"F": F_ACT, "R": R_ACT, "C": C_ACT, "W": W_ROT}
_DR = np.array([0, 1, 0, -1], dtype=np.int64)  # east, south, west, north
_DC = np.array([1, 0, -1, 0], dtype=np.int64)


def operations(depth: int = 3) -> tuple[str, ...]:
    """The operations of ``depth`` actions (:data:`OPERATIONS` or :data:`OPERATIONS_4`)."""
    if depth not in DEPTHS:
        raise ValueError(f"operation depth {depth!r} not in {DEPTHS}")
    return OPERATIONS if depth == 3 else OPERATIONS_4


def operation_codes(depth: int = 3) -> np.ndarray:
    """``int8`` [operations, depth]: :func:`operations` as action codes."""
    return np.array([[_CODE[a] for a in op] for op in operations(depth)], dtype=np.int8)


def patch_offsets(depth: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The cells within ``depth + 1`` moves of a robot (those an operation's ranking reads):
    ``offsets`` [K, 2] (row, column) and ``index`` [2R+1, 2R+1], the row of ``offsets`` of
    each offset (or -1)."""
    radius = depth + 1
    offsets = [(dr, dc) for dr in range(-radius, radius + 1) for dc in range(-radius, radius + 1)
               if abs(dr) + abs(dc) <= radius]
    index = np.full((2 * radius + 1, 2 * radius + 1), -1, dtype=np.int64)
    for k, (dr, dc) in enumerate(offsets):
        index[dr + radius, dc + radius] = k
    return np.array(offsets, dtype=np.int64), index


@njit(cache=True, nogil=True)
def gather_patch(dist, slot, pos, cell_of, dense, width, height, offsets, sel, patch):
    """For each robot ``i`` in ``sel``: ``patch[i, k]`` the distance to its goal (table
    ``dist[slot[i]]``) from the cell at ``offsets[k]`` from its own (``UNREACH`` off the
    map or on an obstacle)."""
    for j in range(sel.size):
        i = sel[j]
        s = slot[i]
        r0, c0 = divmod(cell_of[pos[i]], width)
        for k in range(offsets.shape[0]):
            r = r0 + offsets[k, 0]
            c = c0 + offsets[k, 1]
            v = -1
            if 0 <= r < height and 0 <= c < width:
                v = dense[r * width + c]
            patch[i, k] = dist[s, v] if v >= 0 else UNREACH


@njit(cache=True, nogil=True)
def _end_cost(v, h, dr, dc, free_turns, goal, nbr, cost, unit, patch_i, index):
    """Cost to the goal from cell ``v`` facing ``h`` (offset ``dr, dc`` from the start)."""
    if v == goal:
        return 0.0
    rad = index.shape[0] // 2
    best = np.inf
    for d in range(4):
        u = nbr[v, d]
        if u < 0:
            continue
        k = index[dr + _DR[d] + rad, dc + _DC[d] + rad]
        du = patch_i[k]
        if du >= UNREACH:
            continue
        t = 0 if d == h else (2 if d == (h + 2) % 4 else 1)
        t = max(0, t - free_turns)
        key = t * unit + cost[v, d] + du
        if key < best:
            best = key
    return best


@njit(cache=True, nogil=True)
def _edge(u, d, v):
    """Undirected id of the edge between ``u`` and its neighbour ``v`` in direction ``d``."""
    if d == 0:
        return 2 * u
    if d == 1:
        return 2 * u + 1
    if d == 2:
        return 2 * v
    return 2 * v + 1


@njit(cache=True, nogil=True)
def _operations(i, nbr, cost, unit, pos, head, goal, patch, hold, ops, index, first, pc, pe,
                cand, okey):
    """Robot ``i``'s operations: the cells and edges of each (``pc``, ``pe``), the rank key of
    each (``okey``, lower better) and the valid ones from ``first`` on (1: all but waiting
    throughout), best first (``cand``). Returns their count."""
    v0 = pos[i]
    no, depth = ops.shape
    for d in range(depth):  # waiting throughout: stays put
        pc[i, 0, d] = v0
        pe[i, 0, d] = -1
    if hold[i]:
        return 0
    keys = np.empty(no, dtype=np.float64)
    nc = 0
    for o in range(no):
        v = v0
        h = head[i]
        dr = 0
        dc = 0
        ok = True
        hit = -1
        trailing = 0
        for d in range(depth):
            a = ops[o, d]
            e = -1
            if a == F_ACT:
                u = nbr[v, h]
                if u < 0:
                    ok = False
                    break
                e = _edge(v, h, u)
                v = u
                dr += _DR[h]
                dc += _DC[h]
                trailing = 0
            elif a == R_ACT:
                h = (h + 1) % 4
                trailing = 0
            elif a == C_ACT:
                h = (h + 3) % 4
                trailing = 0
            else:
                trailing += 1
            pc[i, o, d] = v
            pe[i, o, d] = e
            if hit < 0 and v == goal[i]:
                hit = d
        if not ok:
            continue
        if hit >= 0:
            key = -(depth - hit) * 1e6
        else:
            key = _end_cost(v, h, dr, dc, min(trailing, 2), goal[i], nbr, cost, unit, patch[i],
                            index)
            if key == np.inf:
                key = 1e9
        key -= o * 1e-3  # later operations win ties
        okey[i, o] = key
        if o < first:
            continue
        b = nc
        while b > 0 and keys[b - 1] > key:  # insertion sort
            keys[b] = keys[b - 1]
            cand[i, b] = cand[i, b - 1]
            b -= 1
        keys[b] = key
        cand[i, b] = o
        nc += 1
    return nc


@njit(cache=True, nogil=True)
def _place(i, o, pc, pe, used_pos, used_edge, val):
    for d in range(pc.shape[2]):
        used_pos[pc[i, o, d], d] = val
        e = pe[i, o, d]
        if e >= 0:
            used_edge[e, d] = val


@njit(cache=True, nogil=True)
def _collides(i, o, pc, pe, used_pos, used_edge):
    """The one robot operation ``o`` of robot ``i`` collides with; -1 none, -2 several."""
    who = -1
    for d in range(pc.shape[2]):
        k = used_pos[pc[i, o, d], d]
        if k >= 0:
            if who == -1:
                who = k
            elif who != k:
                return -2
        e = pe[i, o, d]
        if e >= 0:
            k = used_edge[e, d]
            if k >= 0:
                if who == -1:
                    who = k
                elif who != k:
                    return -2
    return who


@njit(cache=True, nogil=True)
def _first_action(i, o, ops, nbr, cost, unit, pos, head, goal, patch, hold, index):
    """The action robot ``i`` takes now on operation ``o``: its first, or, where the operation
    starts by turning or waiting in place, whichever of the waits and turns that keep its
    cells leaves it facing best (the 2024 winner's "smart execution")."""
    a0 = ops[o, 0]
    if hold[i]:
        return a0
    a1 = ops[o, 1]
    a2 = ops[o, 2]
    if o == 0 or (a0 != F_ACT and a0 != W_ROT and a1 == a0 and a2 == W_ROT):
        n_alt = 3  # wait, clockwise, counter-clockwise
    elif a0 != F_ACT and a0 != W_ROT and a1 == a0:
        n_alt = 2  # clockwise or counter-clockwise: turning round either way
    elif a0 != F_ACT and a0 != W_ROT and a1 == W_ROT:
        n_alt = 1  # this turn or a wait
    else:
        return a0
    v = pos[i]
    h = head[i]
    best = np.inf
    out = a0
    for k in range(3):
        if n_alt == 3:
            a = W_ROT if k == 0 else (R_ACT if k == 1 else C_ACT)
        elif n_alt == 2:
            if k == 2:
                break
            a = R_ACT if k == 0 else C_ACT
        else:
            if k == 2:
                break
            a = W_ROT if k == 0 else int(a0)
        hh = (h + 1) % 4 if a == R_ACT else ((h + 3) % 4 if a == C_ACT else h)
        key = _end_cost(v, hh, 0, 0, 0, goal[i], nbr, cost, unit, patch[i], index)
        if key < best:
            best = key
            out = a
    return out


_MASK32 = 0xFFFFFFFF


@njit(cache=True, nogil=True)
def _rng_start(seed):
    """A non-zero 32-bit xorshift state from ``seed``."""
    x = ((seed & 0x7FFFFFFF) + 1) * 0x9E3779B1 & _MASK32
    x ^= x >> 16
    return x if x != 0 else 1


@njit(cache=True, nogil=True)
def _rng_next(x):
    """The next state of Marsaglia's 32-bit xorshift (each state a draw)."""
    x ^= (x << 13) & _MASK32
    x ^= x >> 17
    x ^= (x << 5) & _MASK32
    return x


@njit(cache=True, nogil=True)
def _build(root, cand, ncand, desire, pc, pe, used_pos, used_edge, visited, mark, old, ci,
           stack, max_evictions, skip, x):
    """Build robot ``root`` again: its best operation that collides with no robot, or with
    one not yet built under ``mark``, which is evicted and built in turn (backtracking when
    it finds nothing; at most ``max_evictions`` evictions). With ``skip``, each eviction is
    passed over with probability 0.3, drawing from the xorshift state ``x``.

    Returns whether an operation was found, the chain's length (the robots in ``stack``,
    their former operations in ``old``) and the state ``x``. Found nothing, every robot of
    the chain is back on its operation and placed, except ``root``, left unplaced.
    """
    _place(root, desire[root], pc, pe, used_pos, used_edge, -1)
    old[root] = desire[root]
    visited[root] = mark
    ci[root] = 0
    stack[0] = root
    depth = 1
    evictions = 0
    child_failed = -1  # robot whose build just failed, back at its evictor
    while depth > 0:
        r = stack[depth - 1]
        if child_failed >= 0:  # undo the eviction, try r's next operation
            _place(r, desire[r], pc, pe, used_pos, used_edge, -1)
            _place(child_failed, desire[child_failed], pc, pe, used_pos, used_edge,
                   child_failed)
            child_failed = -1
        pushed = False
        while ci[r] < ncand[r]:
            o = cand[r, ci[r]]
            ci[r] += 1
            k = _collides(r, o, pc, pe, used_pos, used_edge)
            if k == -1:
                desire[r] = o
                _place(r, o, pc, pe, used_pos, used_edge, r)
                return True, depth, x
            if k < 0 or visited[k] == mark:
                continue
            if skip:
                x = _rng_next(x)
                if x % 100 < 30:
                    continue
            if evictions >= max_evictions:
                continue
            evictions += 1
            _place(k, desire[k], pc, pe, used_pos, used_edge, -1)
            desire[r] = o
            _place(r, o, pc, pe, used_pos, used_edge, r)
            old[k] = desire[k]
            visited[k] = mark
            ci[k] = 0
            stack[depth] = k
            depth += 1
            pushed = True
            break
        if pushed:
            continue
        desire[r] = old[r]  # nothing fits: back to its old operation
        visited[r] = 0
        depth -= 1
        if depth > 0:
            child_failed = r
    return False, 0, x


@njit(cache=True, nogil=True)
def _lns(attempts, seed, order, okey, cand, ncand, desire, pc, pe, used_pos, used_edge,
         visited, mark, old, ci, stack, max_evictions):
    """Large neighbourhood search over the robots' operations (the 2024 winner's EPIBT+LNS).

    ``attempts`` times: a random robot gives up its operation and is built
    again as in a pass, except that each eviction is skipped with
    probability 0.3; the new operations stand only if the score, the sum
    over robots of ``power * -okey`` (``power`` = ((n + 1 - rank) / (n + 1))²,
    rank 0 the first in ``order``), does not drop by more than 1e-6.
    Returns the number of attempts that changed an operation.
    """
    n = order.size
    power = np.empty(n, dtype=np.float64)
    for j in range(n):
        p = (n + 1 - j) / (n + 1)
        power[order[j]] = p * p
    x = _rng_start(seed)
    changed = 0
    for _ in range(attempts):
        x = _rng_next(x)
        root = x % n
        mark += 1
        if ncand[root] == 0:
            continue
        found, depth, x = _build(root, cand, ncand, desire, pc, pe, used_pos, used_edge,
                                 visited, mark, old, ci, stack, max_evictions, True, x)
        if not found:  # the root keeps its operation
            _place(root, desire[root], pc, pe, used_pos, used_edge, root)
            continue
        delta = 0.0
        for j in range(depth):
            r = stack[j]
            delta += power[r] * (okey[r, old[r]] - okey[r, desire[r]])
        if delta >= -1e-6:
            for j in range(depth):
                if desire[stack[j]] != old[stack[j]]:
                    changed += 1
                    break
            continue
        for j in range(depth):  # rejected: the chain back on its operations
            r = stack[j]
            _place(r, desire[r], pc, pe, used_pos, used_edge, -1)
        for j in range(depth):
            r = stack[j]
            desire[r] = old[r]
            _place(r, desire[r], pc, pe, used_pos, used_edge, r)
    return changed


@njit(cache=True, nogil=True)
def epibt_step(nbr, cost, unit, pos, head, goal, patch, hold, order, ops, index, passes,
               max_evictions, wait_first, used_pos, used_edge, nxt, act, lns_attempts, lns_seed):
    """One EPIBT step: fill ``nxt`` (next cell) and ``act`` (rotation-model action).

    ``patch`` [n, K] holds each robot's distances to its goal around it
    (:func:`gather_patch`), ``order`` the robots by decreasing priority,
    ``ops`` the operations [O, D] (:func:`operation_codes`). ``used_pos``
    [F, D] and ``used_edge`` [2F, D] must hold -1 and are left so.
    ``passes`` passes over the robots; a robot's build evicts at most
    ``max_evictions`` robots. A robot with ``hold`` set waits and cannot be
    evicted. Then ``lns_attempts`` attempts of the large neighbourhood
    search (:func:`_lns`, drawing from ``lns_seed``). Returns the number of
    robots on an operation other than the first (waiting throughout).
    """
    n = pos.size
    no = ops.shape[0]
    depth = ops.shape[1]
    pc = np.empty((n, no, depth), dtype=np.int32)
    pe = np.empty((n, no, depth), dtype=np.int32)
    cand = np.empty((n, no), dtype=np.int32)
    okey = np.empty((n, no), dtype=np.float64)
    ncand = np.empty(n, dtype=np.int32)
    desire = np.zeros(n, dtype=np.int32)
    visited = np.zeros(n, dtype=np.int64)
    old = np.zeros(n, dtype=np.int32)
    ci = np.zeros(n, dtype=np.int32)
    stack = np.empty(n, dtype=np.int64)
    for i in range(n):
        ncand[i] = _operations(i, nbr, cost, unit, pos, head, goal, patch, hold, ops, index,
                               0 if wait_first else 1, pc, pe, cand, okey)
        _place(i, 0, pc, pe, used_pos, used_edge, i)
    mark = 0
    for _ in range(passes):
        mark += 1
        for idx in range(n):
            root = order[idx]
            if visited[root] == mark or ncand[root] == 0:
                continue
            accepted, _, _ = _build(root, cand, ncand, desire, pc, pe, used_pos, used_edge,
                                    visited, mark, old, ci, stack, max_evictions, False, 0)
            if not accepted:  # the root keeps its old operation
                visited[root] = mark
                _place(root, desire[root], pc, pe, used_pos, used_edge, root)
    if lns_attempts > 0:
        _lns(lns_attempts, lns_seed, order, okey, cand, ncand, desire, pc, pe, used_pos,
             used_edge, visited, mark, old, ci, stack, max_evictions)
    moving = 0
    for i in range(n):
        o = desire[i]
        nxt[i] = pc[i, o, 0]
        act[i] = _first_action(i, o, ops, nbr, cost, unit, pos, head, goal, patch, hold, index)
        if o != 0:
            moving += 1
        _place(i, o, pc, pe, used_pos, used_edge, -1)
    return moving
