// The Parquet codecs every reader of the CLI passes to hyparquet, which decodes only snappy and uncompressed itself.
// hyparquet-compressors, from hyparquet's own maintainers, adds gzip, zstd, brotli, lz4 (Hadoop framing) and lz4_raw
// in plain JavaScript and WebAssembly: no native build, so a fresh clone installs it anywhere.
import type { Compressors } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

export const PARQUET_COMPRESSORS: Compressors = compressors;
