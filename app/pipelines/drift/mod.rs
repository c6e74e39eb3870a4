//! Drift: an environment whose live objects differ from what was last deployed there. The
//! periodic check opens one issue per drifted environment in its config repo, keeps it up to
//! date while the drift lasts, and closes it once the drift is gone.

pub mod report;
