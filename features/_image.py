"""Image block: pixel columns reshaped into (channels, height, width) float32 arrays for CNNs."""

from __future__ import annotations

import numpy as np

from features._base import Block, BlockContext, Transformed
from features.columns import pixel_grid


class Image(Block):
    """Pixel columns as an array input ``image`` of shape (n, C, H, W), float32, scaled.

    `columns` [] finds pixel columns by name (pixel_<row>_<col>, pixel<i>); `shape` [C, H, W]
    overrides the inferred one (columns are taken in the given order, channel-major). `scale` 0
    divides by the largest absolute pixel value in train and test; any other number divides by it.
    Example: ``{block = "image", shape = [1, 8, 8], scale = 16.0}``.
    """

    name = "image"
    accepts = ("numeric",)
    default_kinds = ("numeric",)  # narrowed to the pixel grid, see `select_default`
    params = {"shape": (list, [], "[channels, height, width]; [] infers it from the column names"),
              "scale": (float, 0.0, "divide pixels by this; 0 = the largest value"),
              "array": (str, "image", "name of the array input")}

    @staticmethod
    def select_default(train, test, columns: list[str]) -> list[str]:
        grid = pixel_grid(columns)
        return grid[0] if grid else []

    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) from the `shape` parameter or the column names."""
        if self.p["shape"]:
            return tuple(int(v) for v in self.p["shape"])
        grid = pixel_grid(self.columns)
        if grid is None:
            c = len(self.columns)
            side = int(round(c ** 0.5))
            return (1, side, side)
        return grid[1]

    def check(self) -> str | None:
        """Why the columns cannot form the image, or None."""
        if not all(isinstance(v, int) and v > 0 for v in self.p["shape"]):
            return f"shape must be [channels, height, width] as positive integers, got {self.p['shape']!r}"
        shape = self.shape()
        if len(shape) != 3 or int(np.prod(shape)) != len(self.columns):
            return (f"{len(self.columns)} pixel columns do not fill shape {list(shape)}; "
                    f"set shape = [channels, height, width] with a product of {len(self.columns)}")
        return None

    def _pixels(self) -> list[str]:
        return self.columns if self.p["shape"] else (pixel_grid(self.columns) or (self.columns,))[0]

    def fit_state(self, train, test, ctx: BlockContext) -> dict:
        """{"scale": the divisor (the `scale` parameter, else the largest absolute train + test pixel)}."""
        if self.p["scale"]:
            return {"scale": self.p["scale"]}
        cols = self._pixels()
        tr = train[cols].to_numpy(dtype=np.float32, na_value=0.0)
        te = test[cols].to_numpy(dtype=np.float32, na_value=0.0)
        return {"scale": float(max(np.abs(tr).max(initial=0), np.abs(te).max(initial=0)) or 1.0)}

    def transform(self, state: dict, X) -> Transformed:
        """The pixels of rows X divided by the frozen scale, as (n, C, H, W) float32."""
        import pandas as pd

        x = X[self._pixels()].to_numpy(dtype=np.float32, na_value=0.0)
        return Transformed(pd.DataFrame(index=range(len(X))),
                           {self.p["array"]: (x / state["scale"]).reshape(len(x), *self.shape())})
