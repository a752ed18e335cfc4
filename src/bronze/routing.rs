//! One topic, several streams: which of a shared topic's messages this stream's bronze keeps.
//!
//! Every stream on a shared topic consumes all of it (in a group of its own) and keeps the
//! messages whose writer schema is its record; a message of another stream's record is passed
//! over, but its offset still counts as consumed, so the table's position moves past it. The
//! topic's first stream also keeps what no stream claims: a record nobody names (with an error
//! saying so), a schema it cannot identify or a frame it cannot read (with the decoder's error).

use std::collections::HashMap;

use crate::config::Routing;
use crate::wire::decode::Decoder;
use crate::wire::framing::{self, SchemaRef};

/// What bronze does with one message of a shared topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// This stream's record, or a message the decoder must explain: decode it.
    Decode,
    /// Another stream's: pass it over.
    Skip,
    /// Nobody's, and this stream keeps those: kept undecoded with this error.
    Unclaimed { schema_ref: String, error: String },
}

/// The routing of one stream of a shared topic.
pub struct Router {
    topic: String,
    own: String,
    routing: Routing,
    /// The verdict for each writer schema identified so far.
    known: HashMap<SchemaRef, Verdict>,
}

impl Router {
    pub fn new(topic: &str, own_record: &str, routing: Routing) -> Self {
        Self { topic: topic.to_owned(), own: own_record.to_owned(), routing, known: HashMap::new() }
    }

    /// The verdict for a message value (`None`: a tombstone), with `decoder` knowing the writer
    /// schemas (embedded, static ids, learned from the registry).
    pub fn verdict(&mut self, value: Option<&[u8]>, decoder: &Decoder) -> Verdict {
        let unidentified = if self.routing.keeps_unclaimed { Verdict::Decode } else { Verdict::Skip };
        let Some(Ok((schema_ref, _))) = value.map(framing::parse) else { return unidentified };
        if let Some(verdict) = self.known.get(&schema_ref) {
            return verdict.clone();
        }
        // Not remembered: the registry may teach the decoder this schema later.
        let Some(record) = decoder.writer_record(&schema_ref) else { return unidentified };
        let verdict = if record == self.own {
            Verdict::Decode
        } else if self.routing.others.iter().any(|(_, claimed)| *claimed == record) {
            Verdict::Skip
        } else if self.routing.keeps_unclaimed {
            Verdict::Unclaimed { schema_ref: schema_ref.to_string(), error: self.unclaimed(&record) }
        } else {
            Verdict::Skip
        };
        self.known.insert(schema_ref, verdict.clone());
        verdict
    }

    fn unclaimed(&self, record: &str) -> String {
        let claims: Vec<String> = std::iter::once(format!("{} (this stream)", self.own))
            .chain(self.routing.others.iter().map(|(stream, r)| format!("{r} ({stream})")))
            .collect();
        format!("record {record} is claimed by no stream of topic {}; its streams take {}", self.topic, claims.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{PAYMENT_TRANSACTION, PURCHASE_ORDER_ITEM};
    use crate::wire::decode::WriterSchemas;
    use crate::wire::schema::SchemaCatalog;

    fn framed(record: &str) -> Vec<u8> {
        let entry = SchemaCatalog::embedded().record(record).latest().unwrap();
        let mut value = Vec::new();
        framing::write_header(SchemaRef::Fingerprint(entry.fingerprint), &mut value);
        value
    }

    fn decoder(record: &str) -> Decoder {
        let reader = &SchemaCatalog::embedded().record(record).latest().unwrap().schema;
        Decoder::new(reader, WriterSchemas::embedded(&[]), &[crate::config::Framing::SingleObject], 8).unwrap()
    }

    #[test]
    fn each_stream_keeps_its_record_and_the_first_keeps_the_rest() {
        let orders = Routing { others: vec![("payments".into(), PAYMENT_TRANSACTION.into())], keeps_unclaimed: true };
        let mut first = Router::new("mixed", PURCHASE_ORDER_ITEM, orders);
        let payments = Routing { others: vec![("purchase_orders".into(), PURCHASE_ORDER_ITEM.into())], keeps_unclaimed: false };
        let mut second = Router::new("mixed", PAYMENT_TRANSACTION, payments);
        let (order, payment) = (framed(PURCHASE_ORDER_ITEM), framed(PAYMENT_TRANSACTION));
        let (order_decoder, payment_decoder) = (decoder(PURCHASE_ORDER_ITEM), decoder(PAYMENT_TRANSACTION));
        assert_eq!(first.verdict(Some(&order), &order_decoder), Verdict::Decode);
        assert_eq!(first.verdict(Some(&payment), &order_decoder), Verdict::Skip);
        assert_eq!(second.verdict(Some(&payment), &payment_decoder), Verdict::Decode);
        assert_eq!(second.verdict(Some(&order), &payment_decoder), Verdict::Skip);
        // An unreadable frame or a tombstone: the first stream keeps it (the decoder says why).
        assert_eq!(first.verdict(Some(b"not avro"), &order_decoder), Verdict::Decode);
        assert_eq!(second.verdict(None, &payment_decoder), Verdict::Skip);
    }

    #[test]
    fn a_record_nobody_claims_is_kept_by_the_first_stream_with_an_error() {
        let routing = Routing { others: vec![("cards".into(), "io.example.Card".into())], keeps_unclaimed: true };
        let mut router = Router::new("mixed", PURCHASE_ORDER_ITEM, routing);
        let Verdict::Unclaimed { error, .. } = router.verdict(Some(&framed(PAYMENT_TRANSACTION)), &decoder(PURCHASE_ORDER_ITEM)) else {
            panic!("unclaimed")
        };
        assert!(error.contains("record io.medallion.payments.PaymentTransaction is claimed by no stream of topic mixed"), "{error}");
        assert!(error.contains("io.example.Card (cards)"), "{error}");
    }
}
