//! Domain values that parse: once a value of these types exists, it is valid.
//!
//! Every constructor that takes client input returns a [`FieldError`](crate::FieldError) naming
//! the field, so the service can gather all failures of a request in one answer.

mod catalog;
mod company_id;
mod email;
mod field_key;
mod file;
mod ids;
mod person;
mod status;
mod tag;
mod template;
mod text;
mod ticket_number;

pub use catalog::{Catalog, CategoryDef, CategoryKey, DepartmentDef, DepartmentKey, Priority, SubCategoryDef};
pub use company_id::{CompanyId, CompanyIdFormat};
pub use email::Email;
pub use field_key::FieldKey;
pub use file::{FileName, StorageKey};
pub use ids::{
    ApiKeyId, AttachmentId, AuditId, CommentId, EventId, InboundId, MacroId, MessageId, NoticeId, RejectionId,
    SessionId, TicketId, UserId, ViewId,
};
pub use person::{PersonName, Suffix};
pub use status::{Role, TicketStatus, UserStatus};
pub use tag::Tag;
pub use template::{Placeholder, Template};
pub use text::{CommentBody, Description, MacroName, Note, Subject, ViewName};
pub use ticket_number::{TicketNumber, TicketNumberFormat};
