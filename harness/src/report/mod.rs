//! What a run tells people and machines: terminal lines, JSON, JUnit XML,
//! HTML, a Markdown summary, and sequence diagrams of the observed calls.

pub mod causes;
pub mod diagram;
mod html;
mod json;
mod junit;
mod markdown;
mod terminal;

pub use html::{html, write_html};
pub use json::write_json;
pub use junit::{junit_xml, write_junit};
pub use markdown::{markdown, write_markdown};
pub use terminal::{Progress, failure_details, rules_matrix, summary_all, summary_line};
