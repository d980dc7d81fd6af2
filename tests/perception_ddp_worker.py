"""One rank of tests/test_perception_ddp.py, run by `torchrun`: train an LZU RetinaNet (fixed or adaptive) and an LZU
segmenter for a few steps on generated scenes, and dump a hash of each model's parameters (not the
buffers: batch-norm running statistics are rank-local after the last step) and its loss history.

Usage: python -m torch.distributed.run --standalone --nproc_per_node 2 tests/perception_ddp_worker.py DATA OUT
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ddp_worker import param_hash  # noqa: E402

from lzu.perception.experiments import DetectionExperiment, SegmentationExperiment, train_detector, train_segmenter  # noqa: E402
from lzu.train import dist_env  # noqa: E402

TINY = dict(backbone='resnet18', fpn_channels=8, pretrained_backbone=False, seed=0)


def main(data: Path, out: Path):
    rank, world, _ = dist_env()
    result = {'world_size': world}
    for method in ('fixed', 'adaptive'):
        exp = DetectionExperiment(method=method, train_scale=0.5, steps=2, batch_size=1, **TINY)
        det, hist = train_detector(exp, data, out / 'ckpt', device='cpu', progress=False)
        result[f'det_{method}'] = {'hash': param_hash(det, buffers=False), 'loss': hist['loss']}
    exp = SegmentationExperiment(method='fixed', size=32, steps=2, batch_size=2, **TINY)
    seg, hist = train_segmenter(exp, data, out / 'ckpt', device='cpu', progress=False)
    result['seg_fixed'] = {'hash': param_hash(seg, buffers=False), 'loss': hist['loss']}
    (out / f'rank{rank}.json').write_text(json.dumps(result))


if __name__ == '__main__':
    main(Path(sys.argv[1]), Path(sys.argv[2]))
