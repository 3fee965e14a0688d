"""A slow, plain Python EPIBT step: the oracle of ``forestock.sortation._epibt``.

One step spelled out with recursion and dictionaries where the kernel keeps
an explicit stack and flat arrays:

1. each robot lists its operations of three or four actions (``F``
   forward, ``R`` clockwise, ``C`` counter-clockwise, ``W`` wait) that stay
   on free cells (waiting throughout among them only when asked), best
   first: one that reaches the
   goal first (earlier better), then by the cost to the goal from where it
   ends (its last cell's best move, turns included, the trailing waits
   counting as turns, at most two); ties go to the operation later in the
   list;
2. every robot starts waiting throughout; in ``passes`` passes over the
   robots in priority order, a robot not yet built in the pass gives up its
   operation and takes its first that collides (same cell at the same step,
   or the same edge at the same step) with no robot, or with exactly one not yet
   built in the pass: that robot is evicted and built in turn, and if it
   finds nothing it gets its operation back and the next is tried; a build
   evicts at most ``max_evictions`` robots; a robot that finds nothing
   keeps its operation;
3. then, ``lns_attempts`` times, a large neighbourhood search (the 2024
   winner's EPIBT+LNS): a robot drawn at random gives up its operation and
   is built as in a pass, except that each eviction is skipped with
   probability 0.3 (draws from a 32-bit xorshift); the new operations stand
   if the score, the sum over the robots of ``power * -key`` (``key`` the
   rank key of step 1, ``power`` = ((n + 1 - rank) / (n + 1))², rank 0 the
   first robot in priority order), drops by at most 1e-6, and the chain
   goes back on its old operations otherwise;
4. each robot's first action is the step, except that an operation starting
   by turning or waiting in place takes whichever of the turns and waits that
   keep its cells leaves it facing best.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from forestock.sortation._epibt import operations

UNREACH = 65535
DR, DC = (0, 1, 0, -1), (1, 0, -1, 0)  # east, south, west, north
ACTION = {"F": 0, "R": 1, "C": 2, "W": 3}  # the kernel's codes


def _edge(u: int, d: int, v: int) -> tuple[int, int]:
    """The undirected edge between ``u`` and ``v``, named by its west or north end."""
    return (u, d) if d in (0, 1) else (v, d - 2)


def powers(order: list[int]) -> list[float]:
    """Each robot's weight in the search's score: ((n + 1 - rank) / (n + 1))²."""
    power = [0.0] * len(order)
    for j, r in enumerate(order):
        p = (len(order) + 1 - j) / (len(order) + 1)
        power[r] = p * p
    return power


class Oracle:
    """EPIBT on one step: :meth:`solve` returns ``(nxt, act)``.

    ``dist(i, cell)`` is robot ``i``'s cost to its goal from ``cell``.
    """

    def __init__(self, nbr: np.ndarray, cost: np.ndarray, unit: int, pos: list[int],
                 head: list[int], goal: list[int], hold: list[bool],
                 dist: Callable[[int, int], int], wait_first: bool = False,
                 depth: int = 3) -> None:
        self.ops, self.depth = operations(depth), depth
        self.nbr, self.cost, self.unit = nbr, cost, unit
        self.pos, self.head, self.goal, self.hold, self.dist = pos, head, goal, hold, dist
        self.wait_first = wait_first
        n = len(pos)
        self.paths: list[dict[int, tuple[list[int], list[tuple[int, int] | None]]]] = []
        self.keys: list[dict[int, float]] = []
        self.cands: list[list[int]] = []
        for i in range(n):
            self.paths.append({0: ([pos[i]] * depth, [None] * depth)})
            self.keys.append({})
            self.cands.append(self._rank(i))
        self.desire = [0] * n
        self.cell_at: dict[tuple[int, int], int] = {}
        self.edge_at: dict[tuple[tuple[int, int], int], int] = {}
        self.visited = [0] * n
        self.mark = 0

    def _end_cost(self, i: int, v: int, h: int, dr: int, dc: int, free: int) -> float:
        if v == self.goal[i]:
            return 0.0
        best = np.inf
        for d in range(4):
            u = int(self.nbr[v, d])
            if u < 0:
                continue
            du = self.dist(i, u)
            if du >= UNREACH:
                continue
            t = 0 if d == h else (2 if d == (h + 2) % 4 else 1)
            key = max(0, t - free) * self.unit + int(self.cost[v, d]) + du
            best = min(best, key)
        return best

    def _rank(self, i: int) -> list[int]:
        """Robot ``i``'s operations (waiting throughout only if ``wait_first``), best first;
        fills ``self.paths[i]`` and ``self.keys[i]``."""
        if self.hold[i]:
            return []
        keyed = []
        for o, op in enumerate(self.ops):
            v, h, dr, dc, hit, trailing = self.pos[i], self.head[i], 0, 0, -1, 0
            cells: list[int] = []
            edges: list[tuple[int, int] | None] = []
            for d, a in enumerate(op):
                e = None
                if a == "F":
                    u = int(self.nbr[v, h])
                    if u < 0:
                        break
                    e = _edge(v, h, u)
                    v, dr, dc, trailing = u, dr + DR[h], dc + DC[h], 0
                elif a == "R":
                    h, trailing = (h + 1) % 4, 0
                elif a == "C":
                    h, trailing = (h + 3) % 4, 0
                else:
                    trailing += 1
                cells.append(v)
                edges.append(e)
                if hit < 0 and v == self.goal[i]:
                    hit = d
            if len(cells) < self.depth:
                continue  # a forward move into a wall
            self.paths[i][o] = (cells, edges)
            if hit >= 0:
                key = -(self.depth - hit) * 1e6
            else:
                key = self._end_cost(i, v, h, dr, dc, min(trailing, 2))
                if key == np.inf:
                    key = 1e9
            key -= o * 1e-3
            self.keys[i][o] = key
            if o == 0 and not self.wait_first:
                continue
            keyed.append((key, o))
        keyed.sort(key=lambda k: k[0])
        return [o for _, o in keyed]

    def _place(self, i: int, on: bool) -> None:
        cells, edges = self.paths[i][self.desire[i]]
        for d in range(self.depth):
            if on:
                self.cell_at[(cells[d], d)] = i
            else:
                del self.cell_at[(cells[d], d)]
            if edges[d] is not None:
                if on:
                    self.edge_at[(edges[d], d)] = i  # type: ignore[index]
                else:
                    del self.edge_at[(edges[d], d)]  # type: ignore[arg-type]

    def _collides(self, i: int, o: int) -> int:
        cells, edges = self.paths[i][o]
        who = {self.cell_at[(c, d)] for d, c in enumerate(cells) if (c, d) in self.cell_at}
        who |= {self.edge_at[(e, d)] for d, e in enumerate(edges)
                if e is not None and (e, d) in self.edge_at}
        if not who:
            return -1
        return who.pop() if len(who) == 1 else -2

    def _build(self, r: int, budget: list[int]) -> bool:
        """Robot ``r`` (its operation taken off) takes an operation; False: none fits."""
        self.visited[r] = self.mark
        old = self.desire[r]
        for o in self.cands[r]:
            k = self._collides(r, o)
            if k == -1:
                self.desire[r] = o
                self._place(r, True)
                return True
            if k == -2 or self.visited[k] == self.mark or budget[0] <= 0:
                continue
            budget[0] -= 1
            self._place(k, False)
            self.desire[r] = o
            self._place(r, True)
            if self._build(k, budget):
                return True
            self._place(r, False)
            self._place(k, True)
        self.desire[r] = old
        self.visited[r] = 0
        return False

    def _draw(self) -> int:
        """The next state of the 32-bit xorshift."""
        x = self.rng
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.rng = x
        return x

    def _rebuild(self, r: int, chain: list[tuple[int, int]], budget: list[int]) -> str:
        """Robot ``r`` (its operation taken off) takes an operation, evictions skipped at
        random; ``"accepted"`` (the score holds), ``"rejected"`` (it drops: every robot of
        the chain back on its operation) or ``"failed"`` (nothing fits)."""
        self.visited[r] = self.mark
        old = self.desire[r]
        chain.append((r, old))
        for o in self.cands[r]:
            k = self._collides(r, o)
            if k == -1:
                self.desire[r] = o
                self._place(r, True)
                delta = sum(self.power[s] * (self.keys[s][was] - self.keys[s][self.desire[s]])
                            for s, was in chain)
                if delta >= -1e-6:
                    return "accepted"
                self._place(r, False)
                self.desire[r] = old
                return "rejected"
            if k == -2 or self.visited[k] == self.mark:
                continue
            if self._draw() % 100 < 30 or budget[0] <= 0:
                continue
            budget[0] -= 1
            self._place(k, False)
            self.desire[r] = o
            self._place(r, True)
            res = self._rebuild(k, chain, budget)
            if res == "accepted":
                return res
            self._place(r, False)
            self._place(k, True)
            if res == "rejected":
                self.desire[r] = old
                return res
        self.desire[r] = old
        self.visited[r] = 0
        chain.pop()
        return "failed"

    def lns(self, order: list[int], attempts: int, seed: int, max_evictions: int) -> None:
        """``attempts`` rebuilds of random robots, each kept if the score holds."""
        self.power = powers(order)
        x = ((seed & 0x7FFFFFFF) + 1) * 0x9E3779B1 & 0xFFFFFFFF
        x ^= x >> 16
        self.rng = x if x != 0 else 1
        for _ in range(attempts):
            root = self._draw() % len(order)
            self.mark += 1
            if not self.cands[root]:
                continue
            self._place(root, False)
            if self._rebuild(root, [], [max_evictions]) != "accepted":
                self._place(root, True)

    def solve(self, order: list[int], passes: int, max_evictions: int, lns_attempts: int = 0,
              lns_seed: int = 0) -> tuple[list[int], list[int]]:
        for i in range(len(self.pos)):
            self._place(i, True)
        for _ in range(passes):
            self.mark += 1
            for r in order:
                if self.visited[r] == self.mark or not self.cands[r]:
                    continue
                self._place(r, False)
                if not self._build(r, [max_evictions]):
                    self.visited[r] = self.mark
                    self._place(r, True)
        self.lns(order, lns_attempts, lns_seed, max_evictions)
        nxt = [self.paths[i][o][0][0] for i, o in enumerate(self.desire)]
        act = [ACTION[self._first(i, self.ops[o])] for i, o in enumerate(self.desire)]
        return nxt, act

    def _first(self, i: int, op: str) -> str:
        """The action taken now: the first, or the best facing of the turns and waits that
        keep the operation's cells, reading its first three actions (waiting throughout,
        ``RRW``, ``CCW``: wait or either turn; ``RR``, ``CC``: either turn; ``RW``, ``CW``: that
        turn or a wait)."""
        still = "W" * self.depth
        if self.hold[i] or op[0] == "F" or (op[0] == "W" and op != still):
            return op[0]
        if op == still or (op[1] == op[0] and op[2] == "W"):
            alternatives = "WRC"
        elif op[1] == op[0]:
            alternatives = "RC"
        elif op[1] == "W":
            alternatives = "W" + op[0]
        else:
            return op[0]
        v, h = self.pos[i], self.head[i]
        best, out = np.inf, op[0]
        for a in alternatives:
            hh = (h + 1) % 4 if a == "R" else (h + 3) % 4 if a == "C" else h
            key = self._end_cost(i, v, hh, 0, 0, 0)
            if key < best:
                best, out = key, a
        return out
