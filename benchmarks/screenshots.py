"""Screenshots of the HTML reports as a person sees them, taken with headless Chromium.

    python benchmarks/screenshots.py OUT_DIR [--sets titanic,digits,fine_foods] [--results] [--width 1400]

Builds a workspace per data set in a temporary folder (benchmarks/data), runs the explore stage,
and writes OUT_DIR/eda-<set>.png (the whole page) plus OUT_DIR/eda-<set>-<n>.png (the page cut
into screen-sized tiles). With --results it also runs titanic through submit with three models,
records two public leaderboard scores, writes the results report and shoots it the same way.
Needs Debian's `chromium` (apt-get install -y chromium). The PNGs are for looking at, not committed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

RESULTS_MODELS = """
[models.lgbm]
type = "lightgbm"
params = { num_leaves = 15 }

[models.lgbm_small]
type = "lightgbm"
params = { num_leaves = 4, learning_rate = 0.1 }

[models.logreg]
type = "sklearn"
estimator = "sklearn.linear_model.LogisticRegression"
params = { C = 0.3, max_iter = 2000 }
"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit("no chromium on PATH: apt-get install -y chromium")


def shoot(browser: str, html: Path, png: Path, *, width: int, height: int) -> None:
    """One screenshot of `html` at width x height."""
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--window-size={width},{height}", f"--screenshot={png}", html.as_uri()],
                   check=True, capture_output=True, timeout=120)


def shoot_page(browser: str, html: Path, out: Path, stem: str, *, width: int, tile: int = 1100) -> list[Path]:
    """The whole page (a tall window, blank bottom trimmed) and the same cut into screen-sized tiles."""
    from PIL import Image

    text = html.read_text(encoding="utf-8")
    height = min(30000, 1200 + text.count("<img") * 400 + text.count("<tr>") * 30)
    full = out / f"{stem}.png"
    shoot(browser, html, full, width=width, height=height)
    img = Image.open(full).convert("RGB")
    background = img.getpixel((width - 1, img.height - 1))
    bottom = img.height
    while bottom > 1 and all(img.getpixel((x, bottom - 1)) == background for x in range(0, width, 7)):
        bottom -= 1
    img = img.crop((0, 0, width, min(img.height, bottom + 20)))
    img.save(full)
    shots = [full]
    for i, top in enumerate(range(0, img.height, tile)):
        png = out / f"{stem}-{i + 1}.png"
        img.crop((0, top, width, min(img.height, top + tile))).save(png)
        shots.append(png)
    return shots


def eda_report(name: str, tmp: Path) -> Path:
    from pipeline.runner import Runner
    from pipeline.stages import build_pipeline
    from pipeline.workspace import Workspace
    from tests.conftest import make_workspace

    ws = make_workspace(tmp / name, name)
    comp = Workspace(ws).competition(name)
    Runner(build_pipeline(), comp, log=lambda m: None).run("explore")
    return comp.runs / "explore" / "report.html"


def results_report(tmp: Path) -> Path:
    from pipeline.cli import main
    from tests.conftest import make_workspace

    ws = make_workspace(tmp / "results", "titanic")
    cfg = ws / "competition" / "titanic" / "competition.toml"
    text = cfg.read_text()
    cfg.write_text(text[: text.index("[models.lgbm]")] + RESULTS_MODELS)
    assert main(["run", "--root", str(ws)]) == 0
    first = sorted((ws / "submissions" / "titanic").glob("titanic-*.csv"))[-1]
    assert main(["lb", str(first), "0.845", "--root", str(ws)]) == 0
    cfg.write_text(cfg.read_text().replace("num_leaves = 4", "num_leaves = 6"))
    assert main(["run", "--root", str(ws)]) == 0
    second = sorted((ws / "submissions" / "titanic").glob("titanic-*.csv"))[-1]
    if second != first:
        assert main(["lb", str(second), "0.851", "--root", str(ws)]) == 0
    assert main(["report", "--root", str(ws)]) == 0
    return ws / "competition" / "titanic" / "runs" / "report.html"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the PNGs")
    parser.add_argument("--sets", default="titanic,digits,fine_foods", help="data sets for the EDA report")
    parser.add_argument("--results", action="store_true", help="also the results report (titanic, 3 models)")
    parser.add_argument("--width", type=int, default=1400)
    args = parser.parse_args()
    browser = chromium()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for name in [s for s in args.sets.split(",") if s]:
            html = eda_report(name, tmp)
            for png in shoot_page(browser, html, args.out, f"eda-{name}", width=args.width):
                print(png)
        if args.results:
            html = results_report(tmp)
            for png in shoot_page(browser, html, args.out, "results", width=args.width):
                print(png)


if __name__ == "__main__":
    main()
