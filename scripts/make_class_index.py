"""Regenerate keras_rexnet/data/imagenet_class_index.json from timm's package data.

timm ships the ImageNet-1k synsets (in model output order) and the WordNet lemmas;
this writes them in keras.applications' layout: {"0": ["n01440764", "tench, Tinca tinca"], ...}.
Run: python scripts/make_class_index.py
"""
import json
import pathlib

import timm

info = pathlib.Path(timm.__file__).parent / "data" / "_info"
synsets = (info / "imagenet_synsets.txt").read_text().split()
lemmas = dict(line.split("\t", 1) for line in
              (info / "imagenet_synset_to_lemma.txt").read_text().splitlines() if "\t" in line)
assert len(synsets) == 1000
index = {str(i): [s, lemmas[s]] for i, s in enumerate(synsets)}
out = pathlib.Path(__file__).resolve().parents[1] / "keras_rexnet" / "data" / "imagenet_class_index.json"
out.write_text(json.dumps(index, indent=0, ensure_ascii=False) + "\n")
print(f"wrote {len(index)} classes to {out}")
