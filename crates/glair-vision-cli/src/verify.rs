//! `glair-vision verify`: one call, the result as JSON.

use glair_vision::{Error, RequestOptions};

use crate::args::VerifyArgs;
use crate::output::{self, ErrorJson, VerifyOutput, EXIT_NOT_VERIFIED, EXIT_OK};
use crate::sandbox;

pub async fn run(args: VerifyArgs) -> u8 {
    let request = args.fields.to_request(args.nik.as_deref());
    // Validate before anything else: bad input never needs credentials or a network.
    let normalized = match request.normalized() {
        Ok(r) => r,
        Err(e) => return fail(&Error::Validation(e)),
    };
    if let Some(id) = &args.request_id {
        if let Err(e) = glair_vision::request_id_header(id) {
            return fail(&e);
        }
    }
    let options = RequestOptions { request_id: args.request_id.clone(), ..Default::default() };
    // Offline: does the NIK agree with the stated birth date and gender?
    let consistency = request.nik_consistency().ok().filter(|c| !c.is_consistent());
    let client = match sandbox::client(&args.client).await {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let outcome = client.vision.identity().verification_with(&normalized, &options).await;
    client.shutdown().await;
    match outcome {
        Ok(verification) => {
            let out = VerifyOutput { verification: &verification, nik_consistency: consistency };
            show!("{}", serde_json::to_string_pretty(&out).expect("serialisable"));
            if let Some(c) = consistency {
                let what: Vec<&str> = [("birth date", c.date_of_birth), ("gender", c.gender)]
                    .into_iter()
                    .filter(|(_, v)| *v == Some(false))
                    .map(|(w, _)| w)
                    .collect();
                say!("note: the NIK's embedded {} disagrees with the one given", what.join(" and "));
            }
            if verification.verification_status {
                EXIT_OK
            } else {
                say!("not verified: {}", output::one_line(&verification.reason));
                EXIT_NOT_VERIFIED
            }
        }
        Err(e) => fail(&e),
    }
}

fn fail(error: &Error) -> u8 {
    output::print_error(&ErrorJson::from_error(error));
    output::exit_code(error)
}
