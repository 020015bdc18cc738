"""Bounded-memory scoring of table files: chunk readers, exact chunked telemetry, chunked atomic output."""

from anomalib_ae.streaming.readers import Chunk, iter_chunks
from anomalib_ae.streaming.score import DEFAULT_CHUNK_ROWS, StreamSummary, score_stream
from anomalib_ae.streaming.writers import ChunkWriter, RecordChunkWriter

__all__ = ["Chunk", "ChunkWriter", "RecordChunkWriter", "DEFAULT_CHUNK_ROWS", "StreamSummary", "iter_chunks", "score_stream"]
