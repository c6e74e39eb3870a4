//! The `slipway` subcommands. Each file holds one subcommand's arguments and its `run`;
//! they call the same library code the server runs.

pub mod bump;
pub mod check_config;
pub mod clusters;
pub mod deliveries;
pub mod fingerprint_key;
pub mod preview;
pub mod render;
pub mod serve;

/// The one line a failed command prints: each layer of the error once, outermost first
/// ([`crate::failure::chain`], as the queue logs a failed delivery).
pub fn error_message(err: &anyhow::Error) -> String {
    crate::failure::chain(err.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{text}")]
    struct Layer {
        text: &'static str,
        #[source]
        below: Option<Box<Layer>>,
    }

    fn chain(texts: &[&'static str]) -> anyhow::Error {
        let mut below = None;
        for text in texts.iter().rev() {
            below = Some(Box::new(Layer { text, below }));
        }
        anyhow::Error::new(*below.expect("at least one layer"))
    }

    #[test]
    fn distinct_layers_are_all_shown() {
        assert_eq!(
            error_message(&chain(&["cannot open the database", "no such directory"])),
            "cannot open the database: no such directory"
        );
    }

    #[test]
    fn a_layer_repeating_its_cause_shows_the_cause_once() {
        let err = chain(&[
            "database error: (code: 14) unable to open database file",
            "error returned from database: (code: 14) unable to open database file",
            "(code: 14) unable to open database file",
        ]);
        assert_eq!(
            error_message(&err),
            "database error: (code: 14) unable to open database file: \
             error returned from database: (code: 14) unable to open database file"
        );
    }

    #[test]
    fn identical_consecutive_layers_show_once() {
        let err = chain(&[
            "couldn't parse revision",
            "couldn't parse revision",
            "not found",
        ]);
        assert_eq!(error_message(&err), "couldn't parse revision: not found");
    }
}
