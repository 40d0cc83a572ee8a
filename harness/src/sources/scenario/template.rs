//! `{{name}}` placeholders in scenario strings.

use std::collections::BTreeMap;

/// Values a scenario can refer to: accounts (`alice.id`), fresh values
/// (`unknown.uuid`) and captures of earlier steps.
pub type Vars = BTreeMap<String, String>;

/// Replaces every `{{name}}`; an unknown name is an error naming it.
pub fn render(text: &str, vars: &Vars) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("an unclosed {{{{ in {text:?}"))?;
        let name = after[..end].trim();
        let value = vars
            .get(name)
            .ok_or_else(|| format!("no value for {{{{{name}}}}}"))?;
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The names a text refers to.
pub fn names(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        found.push(after[..end].trim().to_owned());
        rest = &after[end + 2..];
    }
    found
}

/// Renders every string inside a JSON value.
pub fn render_value(value: &serde_json::Value, vars: &Vars) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    Ok(match value {
        Value::String(s) => Value::String(render(s, vars)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| render_value(v, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), render_value(v, vars)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_known_names_and_names_unknown_ones() {
        let vars = Vars::from([("alice.id".to_owned(), "42".to_owned())]);
        assert_eq!(
            render("/users/{{alice.id}}/x", &vars).unwrap(),
            "/users/42/x"
        );
        assert_eq!(render("{{ alice.id }}", &vars).unwrap(), "42");
        assert!(render("{{bob.id}}", &vars).unwrap_err().contains("bob.id"));
        assert!(render("{{alice.id", &vars).is_err());
        assert_eq!(names("a {{x}} b {{y.z}}"), vec!["x", "y.z"]);
    }
}
