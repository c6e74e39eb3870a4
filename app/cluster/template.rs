//! Which build Job template is used: the one compiled in for the chosen builder, or the file of
//! the same name in the template directory of the settings.

use std::path::{Path, PathBuf};

const KANIKO: &str = include_str!("../../templates/build-job.yaml");
const BUILDKIT: &str = include_str!("../../templates/build-job-buildkit.yaml");

/// The image builder a build Job runs; each has its template and default executor image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builder {
    Kaniko,
    BuildKit,
}

impl Builder {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "kaniko" => Some(Builder::Kaniko),
            "buildkit" => Some(Builder::BuildKit),
            _ => None,
        }
    }

    /// The template's file name, in `templates/` and in an override directory alike.
    pub fn template_file(self) -> &'static str {
        match self {
            Builder::Kaniko => "build-job.yaml",
            Builder::BuildKit => "build-job-buildkit.yaml",
        }
    }

    /// Upstream Kaniko was archived in June 2025: the default is Chainguard's maintained fork.
    pub fn default_executor_image(self) -> &'static str {
        match self {
            Builder::Kaniko => "cgr.dev/chainguard/kaniko:latest",
            Builder::BuildKit => "moby/buildkit:rootless",
        }
    }
}

/// A build Job template's text and the name errors call it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildTemplate {
    pub name: String,
    pub source: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read the build template {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl BuildTemplate {
    /// The template compiled into slipway for `builder`.
    pub fn builtin(builder: Builder) -> Self {
        let source = match builder {
            Builder::Kaniko => KANIKO,
            Builder::BuildKit => BUILDKIT,
        };
        BuildTemplate {
            name: builder.template_file().to_string(),
            source: source.to_string(),
        }
    }

    /// The override in `dir` when a directory is configured (a missing file there is an error,
    /// not a silent fall-back), else the compiled-in template.
    pub fn load(dir: Option<&Path>, builder: Builder) -> Result<Self, TemplateError> {
        let Some(dir) = dir else {
            return Ok(Self::builtin(builder));
        };
        let path = dir.join(builder.template_file());
        let source = std::fs::read_to_string(&path).map_err(|source| TemplateError::Read {
            path: path.clone(),
            source,
        })?;
        Ok(BuildTemplate {
            name: path.display().to_string(),
            source,
        })
    }
}
