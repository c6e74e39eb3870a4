//! JSON Patch (RFC 6902): `add`, `remove`, `replace`, `move`, `copy` and `test` over JSON
//! Pointers, all or nothing.

use serde_json::Value;

/// Applies `operations` to a copy of `document`; on failure, says which operation and why.
pub fn apply(document: &Value, operations: &Value) -> Result<Value, String> {
    let operations = operations
        .as_array()
        .ok_or("a JSON patch must be an array of operations")?;
    let mut document = document.clone();
    for (index, operation) in operations.iter().enumerate() {
        step(&mut document, operation).map_err(|why| format!("operation {index}: {why}"))?;
    }
    Ok(document)
}

fn step(document: &mut Value, operation: &Value) -> Result<(), String> {
    let op = operation["op"].as_str().ok_or("missing \"op\"")?;
    let path = operation["path"].as_str().ok_or("missing \"path\"")?;
    let value = || {
        operation
            .get("value")
            .cloned()
            .ok_or_else(|| format!("{op} {path}: missing \"value\""))
    };
    let from = || {
        operation["from"]
            .as_str()
            .ok_or_else(|| format!("{op} {path}: missing \"from\""))
    };
    match op {
        "add" => add(document, path, value()?),
        "remove" => remove(document, path).map(drop),
        "replace" => {
            remove(document, path)?;
            add(document, path, value()?)
        }
        "move" => {
            let moved = remove(document, from()?)?;
            add(document, path, moved)
        }
        "copy" => {
            let copied = document
                .pointer(from()?)
                .cloned()
                .ok_or_else(|| format!("copy: {} does not exist", from().unwrap_or_default()))?;
            add(document, path, copied)
        }
        "test" => match document.pointer(path) {
            Some(actual) if *actual == value()? => Ok(()),
            _ => Err(format!("test {path}: the value differs")),
        },
        other => Err(format!("unknown op {other:?}")),
    }
}

/// Splits `/a/b~1c` into the parent pointer and the unescaped last token.
fn split(path: &str) -> Result<(&str, String), String> {
    let at = path
        .rfind('/')
        .ok_or_else(|| format!("{path:?} is not a JSON pointer"))?;
    let token = path[at + 1..].replace("~1", "/").replace("~0", "~");
    Ok((&path[..at], token))
}

fn add(document: &mut Value, path: &str, value: Value) -> Result<(), String> {
    if path.is_empty() {
        *document = value;
        return Ok(());
    }
    let (parent, token) = split(path)?;
    match document.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.insert(token, value);
            Ok(())
        }
        Some(Value::Array(items)) => {
            let at = if token == "-" {
                items.len()
            } else {
                token
                    .parse::<usize>()
                    .ok()
                    .filter(|i| *i <= items.len())
                    .ok_or_else(|| format!("add {path}: index out of range"))?
            };
            items.insert(at, value);
            Ok(())
        }
        _ => Err(format!("add {path}: the parent does not exist")),
    }
}

fn remove(document: &mut Value, path: &str) -> Result<Value, String> {
    let (parent, token) = split(path)?;
    let missing = || format!("remove {path}: the path does not exist");
    match document.pointer_mut(parent) {
        Some(Value::Object(map)) => map.remove(&token).ok_or_else(missing),
        Some(Value::Array(items)) => match token.parse::<usize>() {
            Ok(i) if i < items.len() => Ok(items.remove(i)),
            _ => Err(missing()),
        },
        _ => Err(missing()),
    }
}
