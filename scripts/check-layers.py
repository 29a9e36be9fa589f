#!/usr/bin/env python3
"""Checks the layer rules of ARCHITECTURE.md: imports point down only, never within a layer,
and heavy dependencies stay in the layers allowed to use them.

Reads the declared target dependencies (`swift package describe --type json`) and every
`import` line under Sources/. Exits non-zero listing each violation."""
import json
import os
import re
import subprocess
import sys

LAYERS = {
    "CExpat": 0, "CResolv": 0,
    "XMPPXML": 1, "XMPPAddress": 1,
    "XMPPProtocol": 2, "XMPPSASL": 2,
    "XMPPStream": 3, "ParleyStorage": 3,
    "ParleyKernel": 4, "ParleyNIO": 4,
    "ParleyIM": 5, "ParleySQLite": 5, "ParleyConfig": 5, "ParleyListeners": 5,
    "ParleyApp": 6,
    "parley": 7, "ParleyTesting": 7, "parley-load": 7,
}
# Third-party modules and the lowest layer allowed to import them (ParleyNIO is the exception for NIO/TLS).
RESTRICTED = {
    "GRDB": 5, "Hummingbird": 5, "HummingbirdWebSocket": 5, "PostgresNIO": 5, "Yams": 5,
    "NIOSSL": 5, "NIOPosix": 5, "ArgumentParser": 7, "ServiceLifecycle": 5,
}
NIO_EXEMPT = {"ParleyNIO"}
# Feature modules may not import each other, storage backends or transports.
FEATURE_MODULES = {"ParleyIM"}
FEATURE_FORBIDDEN = {"ParleySQLite", "ParleyListeners", "ParleyNIO", "NIOCore", "NIOPosix", "NIOSSL", "GRDB"}


def main() -> int:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    problems = []
    description = json.loads(subprocess.check_output(["swift", "package", "describe", "--type", "json"], cwd=root))
    for target in description["targets"]:
        name = target["name"]
        if target.get("type") == "test":
            continue
        if name not in LAYERS:
            problems.append(f"{name}: not assigned to a layer in scripts/check-layers.py")
            continue
        for dependency in target.get("target_dependencies", []):
            if dependency in LAYERS and LAYERS[dependency] >= LAYERS[name]:
                problems.append(f"{name} (L{LAYERS[name]}) depends on {dependency} (L{LAYERS[dependency]})")
    import_line = re.compile(r"^\s*(?:@[\w()]+\s+)*import\s+(?:(?:struct|class|enum|protocol|func|var|typealias)\s+)?([A-Za-z_][\w]*)", re.M)
    for target, layer in LAYERS.items():
        folder = os.path.join(root, "Sources", target)
        for directory, _, files in os.walk(folder):
            for file in files:
                if not file.endswith(".swift"):
                    continue
                path = os.path.join(directory, file)
                text = open(path, encoding="utf-8").read()
                for module in import_line.findall(text):
                    where = os.path.relpath(path, root)
                    if module in LAYERS and module != target and LAYERS[module] >= layer:
                        problems.append(f"{where}: imports {module} (L{LAYERS[module]}) from L{layer}")
                    if module in RESTRICTED and layer < RESTRICTED[module] and target not in NIO_EXEMPT:
                        problems.append(f"{where}: imports {module}, allowed only from L{RESTRICTED[module]} up")
                    if target in FEATURE_MODULES and (module in FEATURE_FORBIDDEN or (module in FEATURE_MODULES and module != target)):
                        problems.append(f"{where}: a feature module imports {module}")
    for problem in problems:
        print(f"layer check: {problem}", file=sys.stderr)
    if not problems:
        print("layer check: ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
