"""Evolved fooling textures and images (Nguyen, Yosinski & Clune, "Deep neural networks are
easily fooled", CVPR 2015): CPPN genomes (:mod:`app.lenses.cppn`) evolved with MAP-Elites.

The archive keeps, for every ImageNet class, the genome whose picture the classifier gives
the highest probability of that class (its *elite*).  Each generation mutates parents drawn
from the archive (three quarters of them the target's elite, when there is a target), evaluates the
children in one batch, and lets every child replace the elite of every class it scores
higher on.  So the archive fills many classes at once, and stepping stones found for one
class help another.

Two kinds of picture: ``image`` (a plain fooling image at the classifier's input size,
CPPN of x, y) and ``object`` (a solid skin over the 3D object, CPPN of x, y, z over its
bounding cube, rendered in a fixed pose).  :class:`EvolveState` is saved after every
generation (atomically) and can be resumed; the same seed gives the same run on the same
machine.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from app.core.files import new_file, not_a_file, special_file
from app.lenses.cppn import IMAGE_INPUTS, SOLID_INPUTS, Genome, image_coords, solid_coords, to_uint8

FORMAT = "strike-a-pose/evolve"
KINDS = ("image", "object")
SKIN_SIZE = 48  # voxels per side of an object's solid texture


class EvolveError(ValueError):
    """An evolution that cannot run as asked (bad options, an unreadable or mismatched archive)."""


@dataclass
class Elite:
    genome: Genome
    fitness: float  # probability of the class
    generation: int


@dataclass
class EvolveState:
    """Everything a run needs to go on: its settings, the archive, the generator's state."""

    kind: str
    model: str
    target: int | None
    seed: int
    object: str | None = None
    pose: dict | None = None  # the pose an object is rendered in
    generation: int = 0
    evaluations: int = 0
    elites: dict[int, Elite] = field(default_factory=dict)
    rng_state: dict | None = None
    history: list[dict] = field(default_factory=list)  # one row per generation

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise EvolveError(f"kind is image or object, not {self.kind!r}")
        if self.kind == "object" and not self.object:
            raise EvolveError("an object evolution needs an object")

    @property
    def inputs(self) -> tuple[str, ...]:
        return IMAGE_INPUTS if self.kind == "image" else SOLID_INPUTS

    def rng(self) -> np.random.Generator:
        gen = np.random.default_rng(self.seed)
        if self.rng_state is not None:
            gen.bit_generator.state = self.rng_state
        return gen

    def best(self, k: int | None = None, minimum: float = 0.0, exclude: int | None = None) -> list[tuple[int, Elite]]:
        """Elites by fitness, highest first (without class ``exclude``: the object's own class)."""
        ranked = sorted(((c, e) for c, e in self.elites.items() if e.fitness >= minimum and c != exclude),
                        key=lambda ce: -ce[1].fitness)  # fmt: skip
        return ranked[:k] if k is not None else ranked

    def target_fitness(self) -> float:
        if self.target is None or self.target not in self.elites:
            return 0.0
        return self.elites[self.target].fitness

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "version": 1,
            "kind": self.kind,
            "model": self.model,
            "target": self.target,
            "seed": self.seed,
            "object": self.object,
            "pose": self.pose,
            "generation": self.generation,
            "evaluations": self.evaluations,
            "rng_state": self.rng_state,
            "elites": {
                str(c): {"fitness": e.fitness, "generation": e.generation, "genome": e.genome.to_dict()}
                for c, e in sorted(self.elites.items())
            },  # fmt: skip
            "history": self.history,
        }

    @classmethod
    def from_dict(cls, data: dict) -> EvolveState:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise EvolveError(f"not an evolution archive (format should be {FORMAT!r})")
        try:
            state = cls(kind=data["kind"], model=data["model"], target=data["target"], seed=int(data["seed"]),
                        object=data.get("object"), pose=data.get("pose"), generation=int(data["generation"]),
                        evaluations=int(data["evaluations"]), rng_state=data.get("rng_state"),
                        history=list(data.get("history", [])))  # fmt: skip
            for c, e in data["elites"].items():
                state.elites[int(c)] = Elite(Genome.from_dict(e["genome"]), float(e["fitness"]), int(e["generation"]))
        except KeyError as e:
            raise EvolveError(f"broken evolution archive: no field {e}") from None
        except (TypeError, ValueError, AttributeError) as e:
            raise EvolveError(f"broken evolution archive: {e}") from None
        return state

    def save(self, path: Path) -> None:
        """Write atomically: a crash leaves the previous archive, never half of one."""
        with new_file(path, overwrite=True) as tmp, open(tmp, "w") as f:
            json.dump(self.to_dict(), f)
            f.flush()
            os.fsync(f.fileno())

    @classmethod
    def load(cls, path: Path) -> EvolveState:
        if special_file(path):
            raise EvolveError(not_a_file(path, "evolution archive"))
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except json.JSONDecodeError as e:
            raise EvolveError(f"{path}: not JSON ({e})") from None
        except EvolveError as e:
            raise EvolveError(f"{path}: {e}") from None
        except UnicodeDecodeError:
            raise EvolveError(f"{path}: not an evolution archive (not UTF-8 text)") from None
        except ValueError:  # Python refuses to read integers of more than 4,300 digits
            raise EvolveError(f"{path}: not an evolution archive (a number of more than 4,300 digits)") from None
        except RecursionError:
            raise EvolveError(f"{path}: not an evolution archive (JSON nested too deeply to read)") from None
        except OSError as e:
            raise EvolveError(f"cannot read evolution archive {path}: {e.strerror or e}") from None


@dataclass
class GenerationReport:
    generation: int
    evaluations: int
    elapsed: float
    classes: int  # classes in the archive
    confident: int  # of them with fitness >= 0.9
    target_fitness: float | None
    best_class: int
    best_fitness: float


Evaluate = Callable[[Sequence[Genome]], torch.Tensor]  # genomes -> (N, 1000) probabilities


def _parents(state: EvolveState, rng: np.random.Generator, n: int) -> list[Genome]:
    if not state.elites:
        return []
    classes = sorted(state.elites)
    out = []
    for _ in range(n):
        if state.target is not None and state.target in state.elites and rng.random() < 0.75:
            out.append(state.elites[state.target].genome)
        else:
            out.append(state.elites[classes[int(rng.integers(len(classes)))]].genome)
    return out


def offer(state: EvolveState, genomes: Sequence[Genome], probs: np.ndarray) -> int:
    """Let each genome replace the elites it beats; returns how many classes improved."""
    improved = set()
    best = np.full(probs.shape[1], -1.0)  # the elites' fitness, kept up to date below
    for c, e in state.elites.items():
        best[c] = e.fitness
    for g, p in zip(genomes, probs, strict=True):
        for c in np.flatnonzero(p > best):
            state.elites[int(c)] = Elite(g, float(p[c]), state.generation)
            best[c] = p[c]
            improved.add(int(c))
    return len(improved)


def evolve(
    state: EvolveState,
    evaluate: Evaluate,
    generations: int,
    batch: int = 16,
    stop: threading.Event | None = None,
    report: Callable[[GenerationReport], None] | None = None,
    checkpoint: Callable[[EvolveState], None] | None = None,
) -> EvolveState:
    """Run ``generations`` more generations on ``state`` (changed in place and returned)."""
    if generations < 1 or batch < 1:
        raise EvolveError("generations and batch must be >= 1")
    rng = state.rng()
    started = time.perf_counter()
    for _ in range(generations):
        if stop is not None and stop.is_set():
            break
        parents = _parents(state, rng, batch)
        if parents:
            children = [p.mutate(rng) for p in parents]
        else:
            children = [Genome.random(state.inputs, rng, hidden=int(rng.integers(1, 4))) for _ in range(batch)]
        probs = evaluate(children).float().cpu().numpy()
        improved = offer(state, children, probs)
        state.generation += 1
        state.evaluations += len(children)
        state.rng_state = rng.bit_generator.state
        best_class, best = max(state.elites.items(), key=lambda ce: ce[1].fitness)
        row = {"generation": state.generation, "evaluations": state.evaluations,
               "classes": len(state.elites), "confident": sum(e.fitness >= 0.9 for e in state.elites.values()),
               "improved": improved, "best_class": best_class, "best_fitness": round(best.fitness, 6),
               "target_fitness": None if state.target is None else round(state.target_fitness(), 6)}  # fmt: skip
        state.history.append(row)
        if checkpoint is not None:
            checkpoint(state)
        if report is not None:
            report(GenerationReport(state.generation, state.evaluations, time.perf_counter() - started,
                                    row["classes"], row["confident"], row["target_fitness"], best_class,
                                    best.fitness))  # fmt: skip
    return state


# ------------------------------------------------------------------ pictures


def genome_image(genome: Genome, size: int) -> np.ndarray:
    """A plain CPPN image, (size, size, 3) uint8."""
    return to_uint8(genome.evaluate(image_coords(size)))


def genome_skin(genome: Genome, size: int = SKIN_SIZE) -> np.ndarray:
    """A solid texture, (size, size, size, 3) uint8 indexed [z, y, x]."""
    return to_uint8(genome.evaluate(solid_coords(size)))


def image_evaluator(classifier) -> Evaluate:
    """Classify plain CPPN images at the classifier's input size."""

    def evaluate(genomes: Sequence[Genome]) -> torch.Tensor:
        images = np.stack([genome_image(g, classifier.input_size) for g in genomes])
        return classifier.probabilities(torch.from_numpy(images))

    return evaluate


def object_evaluator(classifier, renderer, reader, pose, settings) -> Evaluate:
    """Render the object skinned with each genome in ``pose`` and classify the frames
    (``reader``: an :class:`app.render.frames.FrameReader` at the classifier's input size)."""

    def evaluate(genomes: Sequence[Genome]) -> torch.Tensor:
        out = []
        try:
            for start in range(0, len(genomes), reader.slots):
                chunk = genomes[start : start + reader.slots]
                for i, g in enumerate(chunk):
                    renderer.set_skin(genome_skin(g))
                    renderer.render(pose, reader.target, settings)
                    reader.read(i)
                out.append(classifier.probabilities(reader.upload(len(chunk))))
        finally:
            renderer.set_skin(None)
        return torch.cat(out)

    return evaluate
