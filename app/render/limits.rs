//! How much work one render may do. A pull request's author controls the input, so every
//! dimension that grows memory or time has a bound; the defaults are far above what a real
//! configuration repository renders to.

const MIB: usize = 1024 * 1024;

/// Bounds of one render; [`RenderLimits::default`] is what [`super::RenderOptions`] uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderLimits {
    /// Bytes kustomize may write to its output before it is stopped. Default: 64 MiB.
    pub max_output_bytes: usize,
    /// Bytes of manifests one render parses: the files of a plain environment together, or
    /// kustomize's output. Default: 64 MiB.
    pub max_rendered_bytes: usize,
    /// YAML documents (Kubernetes objects, `List` items included) one render yields.
    /// Default: 10,000.
    pub max_documents: usize,
    /// Nesting of mappings and sequences in one document. Default: 128.
    pub max_depth: usize,
    /// Values that aliases (`*name`) may copy in one file, altogether; stops "billion
    /// laughs" documents that expand a few lines into gigabytes. Default: 1,000,000.
    pub max_alias_values: usize,
}

impl Default for RenderLimits {
    fn default() -> Self {
        RenderLimits {
            max_output_bytes: 64 * MIB,
            max_rendered_bytes: 64 * MIB,
            max_documents: 10_000,
            max_depth: 128,
            max_alias_values: 1_000_000,
        }
    }
}

/// `64 MiB (67108864 bytes)`, or `1000 bytes` below a mebibyte.
pub(crate) fn bytes(n: usize) -> String {
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB ({n} bytes)", n / MIB)
    } else {
        format!("{n} bytes")
    }
}
