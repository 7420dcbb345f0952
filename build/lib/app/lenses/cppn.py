"""Compositional pattern-producing networks (CPPNs), as evolved by Nguyen et al. to fool
classifiers: coordinates in, colour out, through a small graph of sine / sigmoid /
Gaussian / linear (and tanh, abs) nodes whose topology and weights mutate (NEAT-style:
add a node by splitting a connection, add a connection, perturb weights, change an
activation, disable a connection).

Inputs are named: ``x``, ``y`` (and ``z`` for a solid texture over the object's surface),
``d`` (distance from the centre) and ``bias``.  Outputs are RGB through a sigmoid.  Every
node has a *depth* between 0 (inputs) and 1 (outputs); connections only go from a lower
to a higher depth, so the graph is always acyclic and evaluates in depth order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ACTIVATIONS = ("sin", "sigmoid", "gauss", "linear", "tanh", "abs")
OUTPUTS = 3


def _activate(name: str, x: np.ndarray) -> np.ndarray:
    if name == "sin":
        return np.sin(x)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-np.clip(x, -30, 30)))
    if name == "gauss":
        return np.exp(-np.square(np.clip(x, -10, 10)))
    if name == "tanh":
        return np.tanh(x)
    if name == "abs":
        return np.abs(x)
    return np.clip(x, -3.0, 3.0)  # linear, bounded so that chains cannot blow up


@dataclass
class Node:
    id: int
    activation: str
    depth: float  # 0 inputs, 1 outputs, in between hidden


@dataclass
class Connection:
    src: int
    dst: int
    weight: float
    enabled: bool = True


@dataclass
class Genome:
    inputs: tuple[str, ...]
    nodes: list[Node] = field(default_factory=list)  # hidden and output nodes (inputs are 0..len(inputs)-1)
    connections: list[Connection] = field(default_factory=list)

    # ------------------------------------------------------------- making
    @classmethod
    def random(cls, inputs: tuple[str, ...], rng: np.random.Generator, hidden: int = 2) -> Genome:
        """Every input wired to every output, plus ``hidden`` nodes made by splitting connections."""
        n_in = len(inputs)
        g = cls(inputs)
        g.nodes = [Node(n_in + k, "sigmoid", 1.0) for k in range(OUTPUTS)]
        g.connections = [
            Connection(i, n_in + k, float(rng.normal(0, 1.5))) for i in range(n_in) for k in range(OUTPUTS)
        ]
        for _ in range(hidden):
            g._add_node(rng)
        return g

    def copy(self) -> Genome:
        return Genome(self.inputs, [Node(n.id, n.activation, n.depth) for n in self.nodes],
                      [Connection(c.src, c.dst, c.weight, c.enabled) for c in self.connections])  # fmt: skip

    def _depth(self, node_id: int) -> float:
        if node_id < len(self.inputs):
            return 0.0
        return next(n.depth for n in self.nodes if n.id == node_id)

    def _next_id(self) -> int:
        return max([len(self.inputs) - 1, *(n.id for n in self.nodes)]) + 1

    def _add_node(self, rng: np.random.Generator) -> None:
        live = [c for c in self.connections if c.enabled]
        if not live:
            return
        c = live[int(rng.integers(len(live)))]
        c.enabled = False
        depth = (self._depth(c.src) + self._depth(c.dst)) / 2
        node = Node(self._next_id(), str(rng.choice(ACTIVATIONS)), depth)
        self.nodes.append(node)
        self.connections += [Connection(c.src, node.id, 1.0), Connection(node.id, c.dst, c.weight)]

    def _add_connection(self, rng: np.random.Generator) -> None:
        ids = [*range(len(self.inputs)), *(n.id for n in self.nodes)]
        for _ in range(20):
            a, b = (int(i) for i in rng.choice(ids, 2, replace=False))
            da, db = self._depth(a), self._depth(b)
            if da == db:
                continue
            src, dst = (a, b) if da < db else (b, a)
            if any(c.src == src and c.dst == dst for c in self.connections):
                continue
            self.connections.append(Connection(src, dst, float(rng.normal(0, 1.5))))
            return

    def mutate(self, rng: np.random.Generator) -> Genome:
        """A mutated copy (this genome is left as it is)."""
        g = self.copy()
        for c in g.connections:
            if rng.random() < 0.5:
                c.weight = float(np.clip(c.weight + rng.normal(0, 0.6), -8, 8))
        if rng.random() < 0.25:
            g._add_node(rng)
        if rng.random() < 0.3:
            g._add_connection(rng)
        hidden = [n for n in g.nodes if n.depth < 1.0]
        if hidden and rng.random() < 0.2:
            hidden[int(rng.integers(len(hidden)))].activation = str(rng.choice(ACTIVATIONS))
        live = [c for c in g.connections if c.enabled]
        if len(live) > 3 and rng.random() < 0.05:
            live[int(rng.integers(len(live)))].enabled = False
        return g

    # ----------------------------------------------------------- evaluating
    def evaluate(self, coords: dict[str, np.ndarray]) -> np.ndarray:
        """RGB in [0, 1], shape ``coords[...].shape + (3,)``."""
        missing = [name for name in self.inputs if name not in coords]
        if missing:
            raise ValueError(f"missing CPPN inputs: {missing}")
        values: dict[int, np.ndarray] = {i: coords[name].astype(np.float32) for i, name in enumerate(self.inputs)}
        incoming: dict[int, list[Connection]] = {}
        for c in self.connections:
            if c.enabled:
                incoming.setdefault(c.dst, []).append(c)
        shape = next(iter(values.values())).shape
        for node in sorted(self.nodes, key=lambda n: (n.depth, n.id)):
            total = np.zeros(shape, np.float32)
            for c in incoming.get(node.id, []):
                if c.src in values:
                    total += np.float32(c.weight) * values[c.src]
            values[node.id] = _activate(node.activation, total).astype(np.float32)
        outputs = sorted((n for n in self.nodes if n.depth >= 1.0), key=lambda n: n.id)
        return np.stack([values[n.id] for n in outputs], axis=-1)

    # -------------------------------------------------------------- storing
    def to_dict(self) -> dict:
        return {
            "inputs": list(self.inputs),
            "nodes": [[n.id, n.activation, n.depth] for n in self.nodes],
            "connections": [[c.src, c.dst, c.weight, c.enabled] for c in self.connections],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Genome:
        try:
            g = cls(tuple(str(i) for i in data["inputs"]))
            g.nodes = [Node(int(i), str(a), float(d)) for i, a, d in data["nodes"]]
            g.connections = [Connection(int(s), int(t), float(w), bool(e)) for s, t, w, e in data["connections"]]
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"not a CPPN genome: {e}") from None
        if any(n.activation not in ACTIVATIONS for n in g.nodes):
            raise ValueError("not a CPPN genome: unknown activation")
        return g


IMAGE_INPUTS = ("x", "y", "d", "bias")
SOLID_INPUTS = ("x", "y", "z", "d", "bias")


def image_coords(size: int) -> dict[str, np.ndarray]:
    """x, y in [-1, 1] over a ``size`` x ``size`` image (row 0 at the top)."""
    v = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    x, y = np.meshgrid(v, -v)
    return {"x": x, "y": y, "d": np.sqrt(x * x + y * y) * 1.4, "bias": np.ones_like(x)}


def solid_coords(size: int) -> dict[str, np.ndarray]:
    """x, y, z in [-1, 1] over a ``size``^3 volume indexed [z, y, x] (a 3D texture's layout)."""
    v = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    z, y, x = np.meshgrid(v, v, v, indexing="ij")
    return {"x": x, "y": y, "z": z, "d": np.sqrt(x * x + y * y + z * z), "bias": np.ones_like(x)}


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)
