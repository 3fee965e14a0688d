"""numba kernels of the lifelong planner: distance tables and one PIBT step.

Cells here are dense ids of the free cells (0..F-1); ``nbr[v, d]`` is the
free neighbour of ``v`` in direction ``d`` (0 east, 1 south, 2 west, 3
north) or -1. Action codes: rotation model ``0`` forward, ``1`` turn
clockwise, ``2`` turn counter-clockwise, ``3`` wait; four-neighbour model
``0..3`` move east/south/west/north, ``4`` wait.
"""

from __future__ import annotations

import numpy as np
from numba import njit

UNREACH = 65535

F_ACT = 0
R_ACT = 1
C_ACT = 2
W_ROT = 3
W_FOUR = 4


@njit(cache=True, nogil=True)
def distances(nbr, cost, goal, out, buckets, counts):
    """Fill ``out`` (uint16 [F]) with the cost of the cheapest path from each cell to ``goal``.

    ``nbr[v, d]`` is the cell that may move to ``v`` from direction ``d``;
    ``cost[u, d]`` (>= 1) is the cost of the move from ``u`` in direction
    ``d``. Dial's algorithm: ``buckets`` is [B, 4F] with B above the
    largest move cost, ``counts`` [B]. A cell that cannot reach ``goal``
    keeps ``UNREACH``. Returns the largest finite distance, or -1 if a
    distance would reach ``UNREACH`` (``out`` is then incomplete).
    """
    big = np.uint16(UNREACH)
    out[:] = big
    out[goal] = 0
    nb = buckets.shape[0]
    counts[:] = 0
    buckets[0, 0] = goal
    counts[0] = 1
    pending = 1
    d = 0
    top = 0
    while pending > 0:
        b = d % nb
        k = 0
        while k < counts[b]:
            v = buckets[b, k]
            k += 1
            if out[v] != d:
                continue
            for e in range(4):
                u = nbr[v, e]
                if u < 0:
                    continue
                nd = d + cost[u, (e + 2) % 4]  # the move u -> v heads opposite to e
                if nd < out[u]:  # never true at UNREACH or beyond: out holds no more
                    out[u] = nd
                    top = max(top, nd)
                    bb = nd % nb
                    buckets[bb, counts[bb]] = u
                    counts[bb] += 1
                    pending += 1
        pending -= counts[b]
        counts[b] = 0
        d += 1
    for v in range(out.size):  # a cell left unreached next to a reached one is too far
        if out[v] != big:
            for e in range(4):
                u = nbr[v, e]
                if u >= 0 and out[u] == big:
                    return -1
    return top


@njit(cache=True, nogil=True)
def gather(dist, slot, pos, nbr, sel, near):
    """For each robot ``i`` in ``sel``: ``near[i, d]`` the distance to its goal (table
    ``dist[slot[i]]``) from its neighbour in direction ``d``, ``near[i, 4]`` from its cell.

    A missing neighbour gets ``UNREACH``. These five figures are all a step
    reads of a robot's distance table.
    """
    for k in range(sel.size):
        i = sel[k]
        s = slot[i]
        v = pos[i]
        for d in range(4):
            u = nbr[v, d]
            near[i, d] = dist[s, u] if u >= 0 else UNREACH
        near[i, 4] = dist[s, v]


@njit(cache=True, nogil=True, inline="always")
def _tie(i, u, step, salt):
    return ((i * 7919 + u * 104729 + step * 31 + salt) % 1009) * 1e-6


@njit(cache=True, nogil=True, inline="always")
def _hold(i, pushed, v, stay, cand, ckey, cact):
    """A held robot's candidates: its own cell, or none when pushed."""
    if pushed:
        return 0
    cand[i, 0] = v
    ckey[i, 0] = 0.0
    cact[i, 0] = stay
    return 1


@njit(cache=True, nogil=True)
def _candidates(i, pushed, nbr, cost, unit, pos, head, near, stuck, flow, commit, hold,
                rotation, cong_w, stuck_after, stuck_w, commit_w, step, salt, cand, ckey, cact):
    """Fill robot ``i``'s next cells sorted best first (``cact``: direction, 4 = stay).

    A cell costs the move there (``cost``, in units of ``unit`` per step)
    and its distance to the goal (``near``, see :func:`gather`), plus the turns it needs under the
    rotation model, plus the recent flow against the move; staying costs a
    step. The cell a robot turned towards last step (``commit``) costs
    ``commit_w`` less, so that turning is not undone; a robot waiting beyond
    ``stuck_after`` steps instead pays ``stuck_w`` per step more for its
    blocked forward cell. A robot being loaded or unloaded (``hold``) can
    only stay. Returns the count.
    """
    v = pos[i]
    h = head[i]
    nc = 0
    if hold[i]:
        return _hold(i, pushed, v, 4, cand, ckey, cact)
    for d in range(4):
        u = nbr[v, d]
        if u < 0:
            continue
        key = (cost[v, d] + near[i, d] + unit * cong_w * flow[u, (d + 2) % 4]
               + _tie(i, u, step, salt))
        if rotation and d != h:
            key += unit * (2.0 if d == (h + 2) % 4 else 1.0)
        if stuck[i] > stuck_after and d == h:
            key += unit * stuck_w * (stuck[i] - stuck_after)
        elif u == commit[i]:
            key -= unit * commit_w
        cand[i, nc] = u
        ckey[i, nc] = key
        cact[i, nc] = d
        nc += 1
    if not pushed:
        cand[i, nc] = v
        ckey[i, nc] = near[i, 4] + unit + _tie(i, v, step, salt)  # staying costs a step
        cact[i, nc] = 4
        nc += 1
    for a in range(1, nc):  # insertion sort by key
        kc = cand[i, a]
        kk = ckey[i, a]
        ka = cact[i, a]
        b = a - 1
        while b >= 0 and ckey[i, b] > kk:
            cand[i, b + 1] = cand[i, b]
            ckey[i, b + 1] = ckey[i, b]
            cact[i, b + 1] = cact[i, b]
            b -= 1
        cand[i, b + 1] = kc
        ckey[i, b + 1] = kk
        cact[i, b + 1] = ka
    return nc


@njit(cache=True, nogil=True)
def _candidates_turning(i, pushed, nbr, cost, unit, pos, head, near, stuck, flow, commit,
                        hold, cong_w, stuck_after, stuck_w, commit_w, step, salt, cand, ckey,
                        cact):
    """Rotation model in state space: move forward, or stay (wait or turn).

    A pushed robot can only move forward. Staying turns towards the best
    other neighbour when that beats waiting (for the cell ahead to clear, if
    it leads on); a robot waiting beyond ``stuck_after`` steps pays
    ``stuck_w`` per step more for waiting and for its forward cell, so it
    turns away from a standstill. A robot being loaded or unloaded
    (``hold``) can only wait.
    """
    v = pos[i]
    h = head[i]
    if hold[i]:
        return _hold(i, pushed, v, W_ROT, cand, ckey, cact)
    over = unit * stuck_w * (stuck[i] - stuck_after) if stuck[i] > stuck_after else 0.0
    nc = 0
    wait = np.inf  # waiting pays only for the cell ahead to clear
    u = nbr[v, h]
    if u >= 0:
        key = (cost[v, h] + near[i, h] + unit * cong_w * flow[u, (h + 2) % 4]
               + _tie(i, u, step, salt))
        if u == commit[i]:
            key -= unit * commit_w
        wait = min(wait, key + unit)  # waiting for the cell ahead to clear
        cand[i, nc] = u
        ckey[i, nc] = key + over
        cact[i, nc] = F_ACT
        nc += 1
    if not pushed:
        best = wait + over + 1e-3
        sa = W_ROT
        for d in range(4):
            w = nbr[v, d]
            if d == h or w < 0:
                continue
            key = (cost[v, d] + near[i, d] + unit * cong_w * flow[w, (d + 2) % 4]
                   + unit * (2.0 if d == (h + 2) % 4 else 1.0) + _tie(i, w, step, salt))
            if key < best:
                best = key
                sa = C_ACT if d == (h + 3) % 4 else R_ACT
        cand[i, nc] = v
        ckey[i, nc] = best
        cact[i, nc] = sa
        nc += 1
        if nc == 2 and ckey[i, 1] < ckey[i, 0]:
            cand[i, 0], cand[i, 1] = cand[i, 1], cand[i, 0]
            ckey[i, 0], ckey[i, 1] = ckey[i, 1], ckey[i, 0]
            cact[i, 0], cact[i, 1] = cact[i, 1], cact[i, 0]
    return nc


@njit(cache=True, nogil=True)
def plan_step(nbr, cost, unit, pos, head, near, prio, stuck, flow, commit, hold, occ_now,
              occ_next, nxt, act, mode, cong_w, stuck_after, stuck_w, commit_w, step, salt,
              cand, ckey, cact):
    """One PIBT step: fill ``nxt`` (next cell) and ``act`` (action) of every robot.

    ``near`` [n, 5] holds each robot's distances to its goal from its
    neighbours and its cell (:func:`gather`).
    Robots are planned in decreasing ``prio``; a robot that wants a cell
    held by a robot not yet planned pushes it away (priority inheritance)
    and tries its next choice if the push fails (backtracking). The
    recursion of PIBT runs on an explicit stack. ``mode``: 0 four-neighbour
    moves; 1 rotation model, PIBT over cells then turned into actions; 2
    rotation model, PIBT over cells and headings (a robot moves forward or
    stays). A robot with ``hold`` set stays and cannot be pushed.
    """
    rotation = mode > 0
    stay_act = W_ROT if mode == 2 else 4
    n = pos.size
    for i in range(n):
        nxt[i] = -1
    ncand = np.zeros(n, dtype=np.int64)
    cidx = np.zeros(n, dtype=np.int64)
    stack = np.empty(n, dtype=np.int64)
    order = np.argsort(-prio, kind="mergesort")
    for idx in range(n):
        root = order[idx]
        if nxt[root] != -1:
            continue
        if mode == 2:
            ncand[root] = _candidates_turning(
                root, False, nbr, cost, unit, pos, head, near, stuck, flow, commit,
                hold, cong_w, stuck_after, stuck_w, commit_w, step, salt, cand, ckey, cact)
        else:
            ncand[root] = _candidates(
                root, False, nbr, cost, unit, pos, head, near, stuck, flow, commit, hold,
                rotation, cong_w, stuck_after, stuck_w, commit_w, step, salt, cand, ckey, cact)
        cidx[root] = 0
        stack[0] = root
        depth = 1
        ret = 0  # 0: try candidates, 1: the pushed child succeeded, 2: it failed
        while depth > 0:
            i = stack[depth - 1]
            if ret == 1:
                depth -= 1
                continue
            if ret == 2:
                cidx[i] += 1
                ret = 0
            v = pos[i]
            pushed_child = False
            done = False
            while cidx[i] < ncand[i]:
                c = cidx[i]
                u = cand[i, c]
                if occ_next[u] != -1:
                    cidx[i] += 1
                    continue
                k = occ_now[u]
                if k != -1 and k != i and nxt[k] == v:
                    cidx[i] += 1  # a swap with a robot already planned into my cell
                    continue
                nxt[i] = u
                occ_next[u] = i
                act[i] = cact[i, c]
                if k != -1 and k != i and nxt[k] == -1:
                    if mode == 2:
                        ncand[k] = _candidates_turning(
                            k, True, nbr, cost, unit, pos, head, near, stuck, flow,
                            commit, hold, cong_w, stuck_after, stuck_w, commit_w, step, salt, cand,
                            ckey, cact)
                    else:
                        ncand[k] = _candidates(
                            k, True, nbr, cost, unit, pos, head, near, stuck, flow,
                            commit, hold, rotation, cong_w, stuck_after, stuck_w, commit_w, step,
                            salt, cand, ckey, cact)
                    cidx[k] = 0
                    stack[depth] = k
                    depth += 1
                    pushed_child = True
                else:
                    done = True
                break
            if pushed_child:
                continue
            depth -= 1
            if done:
                ret = 1
            else:
                nxt[i] = v
                occ_next[v] = i
                act[i] = stay_act
                if mode == 2:  # it stays, but may still turn where it wants to go
                    nc = _candidates_turning(
                        i, False, nbr, cost, unit, pos, head, near, stuck, flow, commit,
                        hold, cong_w, stuck_after, stuck_w, commit_w, step, salt, cand, ckey,
                        cact)
                    for c in range(nc):
                        if cand[i, c] == v:
                            act[i] = cact[i, c]
                ret = 2
    for i in range(n):
        occ_next[nxt[i]] = -1
    if mode == 1:
        _to_rotation(nbr, cost, unit, pos, head, near, occ_now, nxt, act, commit, hold, stack)


@njit(cache=True, nogil=True)
def _to_rotation(nbr, cost, unit, pos, head, near, occ_now, nxt, act, commit, hold, stack):
    """Turn PIBT's next cells into rotation-model actions.

    A robot facing its next cell moves forward; one that is not turns
    towards it and stays; one that stays turns towards its best neighbour.
    A robot moving into the cell of a robot that stays must stay too
    (followed along chains; a cycle of robots moving forward all move).
    A robot that does not move commits to the neighbour it faces; a held
    robot waits.
    """
    n = pos.size
    state = np.zeros(n, dtype=np.int8)  # 0 unknown, 1 moves, 2 stays, 3 on the stack
    for i in range(n):
        v = pos[i]
        d = act[i]  # direction of the move, 4 = stay
        h = head[i]
        if hold[i]:
            act[i] = W_ROT
            state[i] = 2
            continue
        if d == 4:
            best = np.inf
            d = h
            for e in range(4):
                u = nbr[v, e]
                if u >= 0:
                    key = cost[v, e] + near[i, e] + unit * (
                        0.0 if e == h else (2.0 if e == (h + 2) % 4 else 1.0))
                    if key < best:
                        best = key
                        d = e
        commit[i] = nbr[v, d]
        if d == h and nxt[i] != v:
            act[i] = F_ACT
        elif d == h:
            act[i] = W_ROT
            state[i] = 2
        else:
            act[i] = C_ACT if d == (h + 3) % 4 else R_ACT
            nxt[i] = v
            state[i] = 2
    for i in range(n):
        if state[i] != 0:
            continue
        depth = 0
        cur = i
        result = 1
        while True:
            stack[depth] = cur
            depth += 1
            state[cur] = 3
            k = occ_now[nxt[cur]]
            if k == -1 or k == cur:
                result = 1
                break
            if state[k] == 3:
                result = 1  # a cycle: every robot on it moves
                break
            if state[k] == 1 or state[k] == 2:
                result = state[k]
                break
            cur = k
        for j in range(depth):
            a = stack[j]
            state[a] = result
            if result == 2:
                nxt[a] = pos[a]
                act[a] = W_ROT


@njit(cache=True, nogil=True)
def execute(nbr, pos, head, nxt, act, occ_now, stuck, flow, commit, waits, hold, rotation):
    """Apply the step: move, turn, update occupancy, stuck counters, flow and waits.

    A robot standing still counts a wait in its cell unless it is being
    loaded or unloaded (``hold``). Returns the number of robots that moved
    or turned.
    """
    n = pos.size
    busy = 0
    for i in range(n):
        occ_now[pos[i]] = -1
    for i in range(n):
        v = pos[i]
        u = nxt[i]
        a = act[i]
        if u != v:
            d = head[i] if rotation else a
            if not rotation:
                head[i] = a
            flow[u, d] += 1.0
            stuck[i] = 0
            commit[i] = -1
            busy += 1
        else:
            stuck[i] += 1
            if rotation and a == R_ACT:
                head[i] = (head[i] + 1) % 4
                commit[i] = nbr[v, head[i]]
                stuck[i] = 0
                busy += 1
            elif rotation and a == C_ACT:
                head[i] = (head[i] + 3) % 4
                commit[i] = nbr[v, head[i]]
                stuck[i] = 0
                busy += 1
            elif not hold[i]:
                waits[v] += 1
        pos[i] = u
    for i in range(n):
        occ_now[pos[i]] = i
    return busy
