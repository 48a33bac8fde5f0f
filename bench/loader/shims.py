"""Import shims for the rivals' readers on the project's torch venv (pip --target installs, --no-deps).

MosaicML Streaming 0.13's `streaming/base/dataloader.py` imports two classes from `transformers`
only for an `isinstance` test on batches (`BatchFeature`, `BatchEncoding`), and its text
datasets (`streaming.text`, imported by the package) import `AutoTokenizer`; transformers itself is
not installed here (multi-GB), nor is torchvision (`streaming.vision` subclasses its
`VisionDataset`). `install()` puts stub modules with empty classes in its place, so
no batch ever matches them (our batches are dicts, handled by the branch before). Nothing else is
patched. LitData needs the harness's `compat` (torch.uint16 alias) only on torch < 2.3.
"""
import sys
import types


def install():
    if "transformers" in sys.modules:
        return
    try:
        import transformers  # noqa: F401
        return
    except ImportError:
        pass
    root = types.ModuleType("transformers")
    root.__path__ = []
    for sub, cls in (("feature_extraction_utils", "BatchFeature"),
                     ("tokenization_utils_base", "BatchEncoding"),
                     ("models", None), ("models.auto", None),
                     ("models.auto.tokenization_auto", "AutoTokenizer")):
        m = types.ModuleType(f"transformers.{sub}")
        m.__path__ = []
        if cls:
            setattr(m, cls, type(cls, (dict,), {}))
        sys.modules[f"transformers.{sub}"] = m
    sys.modules["transformers"] = root
    _stub_torchvision()


def _stub_torchvision():
    """`streaming.vision` (imported by the package, unused here) subclasses torchvision's
    `VisionDataset`; torchvision is not installed in the torch venv."""
    try:
        import torchvision  # noqa: F401
        return
    except ImportError:
        pass
    for name, attrs in (("torchvision", {}), ("torchvision.datasets", {"VisionDataset": object, "CIFAR10": object}),
                        ("torchvision.transforms", {}),
                        ("torchvision.transforms.functional", {"to_tensor": None})):
        m = types.ModuleType(name)
        m.__path__ = []
        for k, v in attrs.items():
            setattr(m, k, type(k, (), {}) if v is object else v)
        sys.modules[name] = m
