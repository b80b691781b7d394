"""Detecting a checkpoint's configuration and loading it into a Keras model.

Every checkpoint tensor is used exactly once and every Keras weight is set exactly
once; whatever is left over on either side is a :class:`CheckpointError` that lists it.
"""

import dataclasses

from keras_rexnet import spec as specs
from keras_rexnet.converters.checkpoint import read_state_dict, unwrap
from keras_rexnet.converters.layouts import (FAMILY_OF_LAYOUT, classifier_key, layout_of,
                                             table)
from keras_rexnet.errors import CheckpointError
from keras_rexnet.weights import adapt_stem

LAYOUT_TITLES = {"official_v1": "an official ReXNetV1 checkpoint",
                 "official_lite": "an official ReXNetV1-lite checkpoint",
                 "timm": "a timm ReXNet checkpoint"}


@dataclasses.dataclass(frozen=True)
class Detected:
    """What a checkpoint holds, read from its key names and shapes alone."""

    layout: str
    spec: specs.NetSpec
    classes: int  # 0 when the checkpoint has no classifier
    name: str


def _listing(items, most=5):
    items = list(items)
    text = ", ".join(items[:most])
    return text + (f" (+{len(items) - most} more)" if len(items) > most else "")


def _candidates(layout):
    """Candidate specs for a layout: published widths first, then a 0.01 grid."""
    family = FAMILY_OF_LAYOUT[layout]
    divs = (1, 8, 16) if layout == "timm" else (1,)
    published = {"rexnet_v1": specs.V1_WIDTHS, "rexnet_lite": specs.LITE_WIDTHS}[family]
    widths = list(published.values()) + list(specs.R_WIDTHS.values())
    widths += [k / 100 for k in range(25, 401)]
    seen = set()
    for ch_div in divs:
        for w in widths:
            if (w, ch_div) in seen:
                continue
            seen.add((w, ch_div))
            yield (specs.rexnet_lite(w) if family == "rexnet_lite"
                   else specs.rexnet_v1(w, ch_div=ch_div))


def _mismatches(entries, state):
    """(shape mismatches among present keys, missing keys) of a candidate table."""
    wrong, missing = 0, []
    for entry in entries:
        for key, shape in entry.tensors():
            if key not in state:
                missing.append(key)
            elif tuple(state[key].shape) != shape:
                wrong += 1
    return wrong, missing


def detect(state, path=None):
    """Decide layout, family, width and classes of a state dict (or a checkpoint path).

    Raises :class:`CheckpointError` for another architecture, for shapes that fit no
    configuration, and -- when the shapes identify one -- for missing or unexpected tensors.
    """
    if not isinstance(state, dict):
        path = state if path is None else path
        state = read_state_dict(state)
    else:
        state = unwrap(path, state)
    layout = layout_of(state)
    if layout is None:
        raise CheckpointError(path, "not a ReXNet checkpoint (neither the official nor the timm "
                                    f"key layout; first keys: {_listing(state)})")
    ckey = classifier_key(layout)
    classes = int(state[ckey].shape[0]) if ckey in state else 0
    stem = state.get("features.0.weight" if layout.startswith("official") else "stem.conv.weight")
    for spec in _candidates(layout):
        if stem is not None and stem.shape[0] != spec.stem_channels:
            continue
        entries = table(spec, layout, classes or 1000)
        if not classes:
            entries = [e for e in entries if not e.top]
        wrong, missing = _mismatches(entries, state)
        if wrong or len(missing) > len(state):
            continue
        name = specs.default_name(spec)
        if missing:
            raise CheckpointError(path, f"looks like {name} but is missing {len(missing)} "
                                        f"tensors: {_listing(missing)}")
        used = {k for e in entries for k, _ in e.tensors()}
        unexpected = [k for k in state if k not in used]
        if unexpected:
            raise CheckpointError(path, f"looks like {name} but has {len(unexpected)} unexpected "
                                        f"tensors: {_listing(unexpected)}")
        return Detected(layout, spec, classes, name)
    raise CheckpointError(path, f"is {LAYOUT_TITLES[layout]} by its key names, but its shapes fit "
                                "no ReXNet configuration (width 0.25-4.0)")


def _weighted_layers(model):
    import keras

    for layer in model.layers:
        if isinstance(layer, (keras.layers.Normalization, keras.layers.Rescaling)):
            continue  # fixed preprocessing constants, not learned weights
        if layer.weights:
            yield layer


def load_state_into(model, spec, state, include_top=True, path=None, model_name=None):
    """Set every weight of ``model`` (built from ``spec``) from a checkpoint state dict.

    Raises :class:`CheckpointError` for another family, a shape that does not fit
    (naming the first mismatched layer with both shapes), missing or unused tensors,
    and Keras weights left unset. Returns the checkpoint layout.
    """
    model_name = model_name or model.name
    state = unwrap(path, state)
    layout = layout_of(state)
    if layout is None:
        raise CheckpointError(path, "not a ReXNet checkpoint (neither the official nor the timm "
                                    f"key layout; first keys: {_listing(state)})")
    if FAMILY_OF_LAYOUT[layout] != spec.family:
        raise CheckpointError(path, f"is {LAYOUT_TITLES[layout]}, but the model {model_name!r} "
                                    f"is a {spec.family} model")
    names = {layer.name for layer in model.layers}
    classes = model.get_layer("predictions").units if include_top else 1000
    entries = table(spec, layout, classes)

    missing, unused_top = [], []
    for entry in entries:
        if entry.top and not include_top:
            unused_top += [k for k, _ in entry.tensors()]
            continue
        for key, shape in entry.tensors():
            if key not in state:
                missing.append(key)
            elif tuple(state[key].shape) != shape:
                hint = ""
                try:
                    found = detect(state, path)
                    hint = f"; the file looks like {found.name} with {found.classes} classes"
                except CheckpointError:
                    pass
                raise CheckpointError(
                    path, f"does not fit {model_name}: layer {entry.layer!r} ({key}) has shape "
                          f"{tuple(state[key].shape)} in the checkpoint, the model expects "
                          f"{shape}{hint}")
    if missing:
        raise CheckpointError(path, f"is missing {len(missing)} tensors: {_listing(missing)}")
    used = {k for e in entries for k, _ in e.tensors()}
    unexpected = [k for k in state if k not in used]
    if unexpected:
        raise CheckpointError(path, f"has {len(unexpected)} unexpected tensors: "
                                    f"{_listing(unexpected)}")

    assigned = set()
    for entry in entries:
        if entry.top and not include_top:
            continue
        if entry.layer not in names:
            raise CheckpointError(path, f"the model {model_name!r} has no layer {entry.layer!r}")
        layer = model.get_layer(entry.layer)
        values = entry.to_keras([state[k] for k, _ in entry.tensors()])
        # A model taking other than 3 channels: the stem kernel adapted as timm does.
        values = adapt_stem(layer, values, spec.in_channels)
        current = layer.get_weights()
        if [v.shape for v in values] != [c.shape for c in current]:
            raise CheckpointError(
                path, f"layer {entry.layer!r}: the checkpoint gives shapes "
                      f"{[v.shape for v in values]}, the Keras layer has {[c.shape for c in current]}")
        layer.set_weights(values)
        assigned.add(entry.layer)
    unset = [layer.name for layer in _weighted_layers(model) if layer.name not in assigned]
    if unset:
        raise CheckpointError(path, f"leaves {len(unset)} Keras layers unset: {_listing(unset)}")
    return layout


def load_checkpoint_into(model, spec, path, include_top=True, model_name=None):
    """Read ``path`` (no code runs) and load it into ``model``; see :func:`load_state_into`."""
    state = read_state_dict(path)
    return load_state_into(model, spec, state, include_top=include_top, path=path,
                           model_name=model_name)


def load(path, **kwargs):
    """Build the model a checkpoint holds (detected from it) with its weights.

    ``kwargs`` go to the builder (``include_top``, ``input_shape``,
    ``classifier_activation`` ...); ``classes`` comes from the checkpoint.
    """
    from keras_rexnet.model import build_from_spec

    state = read_state_dict(path)
    found = detect(state, path)
    kwargs.setdefault("classes", found.classes or 1000)
    if not found.classes:
        kwargs.setdefault("include_top", False)
    model = build_from_spec(found.spec, model_name=found.name, **kwargs)
    load_state_into(model, found.spec, state, include_top=kwargs.get("include_top", True),
                    path=path, model_name=found.name)
    return model
