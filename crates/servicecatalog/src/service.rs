//! The Service Catalog operations: portfolios, products and their provisioning artifacts,
//! associations and launch paths. Provisioned products and records are in
//! [`crate::launch`].
//!
//! Choices where AWS's behaviour is not observable here:
//! * there are no principals: every product associated with at least one portfolio is
//!   visible to the end-user calls (`SearchProducts`, `DescribeProduct`,
//!   `ListLaunchPaths`), and every portfolio association is a launch path;
//! * `IdempotencyToken`s are accepted but calls are not de-duplicated by them (boto3 and
//!   the CLI send a fresh token on every call anyway);
//! * `AcceptLanguage` is accepted and ignored (messages are English);
//! * a template is read once, when its artifact is created, and kept with the artifact:
//!   as in AWS, changing the object behind `LoadTemplateFromURL` afterwards changes
//!   nothing.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sagestack_cloudformation::{CloudFormationService, S3_TEMPLATE_LIMIT, TemplateSource};
use sagestack_engine::{Clock, SystemClock};
use sagestack_protocol::validate::{Invalid, Model};
use sagestack_protocol::{AwsError, Json11Service, JsonOutput, RequestContext};
use sagestack_store::{CatalogCursor, CatalogKind, CatalogRecord, Store, StoreError};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::ScError;
use crate::model::{Artifact, Portfolio, Product, Scope, Tag, launch_path_id, new_id, tags_json};

/// The embedded model (`model/servicecatalog.json`).
pub static MODEL: LazyLock<Model> = LazyLock::new(|| {
    Model::parse(include_str!("../model/servicecatalog.json"))
        .expect("embedded Service Catalog model is valid (tested)")
});

/// The JSON 1.1 target prefix.
pub const TARGET_PREFIX: &str = "AWS242ServiceCatalogService";
/// Tags a portfolio or product may have (AWS's limit).
pub const MAX_TAGS: usize = 20;
/// Provisioning artifacts a product may have (AWS's default quota).
pub const MAX_ARTIFACTS: usize = 100;
/// Page size when `PageSize` is absent or 0.
pub const DEFAULT_PAGE: usize = 20;

pub(crate) type Result<T> = std::result::Result<T, ScError>;

/// Reads an operation's input: the model's constraints first (`ValidationException`),
/// then the typed shape.
pub(crate) fn decode<T: DeserializeOwned>(operation: &str, input: Value) -> Result<T> {
    if let Err(e) = MODEL.validate(operation, &input) {
        return Err(match e {
            Invalid::Constraints(_) => ScError::Validation(e.message()),
            Invalid::Type(m) => ScError::Serialization(m),
        });
    }
    serde_json::from_value(input).map_err(|e| ScError::Serialization(e.to_string()))
}

pub(crate) fn seconds(millis: i64) -> f64 {
    millis as f64 / 1000.0
}

/// An opaque page token: the offset into the filtered, ordered results.
pub(crate) fn encode_token(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("sc1:{offset}"))
}

pub(crate) fn decode_token(token: Option<&str>) -> Result<usize> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("sc1:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| ScError::InvalidParameters("The page token is not valid.".into()))
}

/// One page of `items` from a page token: the items and the next token.
pub(crate) fn page<T>(
    items: Vec<T>,
    token: Option<&str>,
    size: Option<i64>,
) -> Result<(Vec<T>, Option<String>)> {
    let start = decode_token(token)?;
    let size = match size {
        Some(n) if n > 0 => n as usize,
        _ => DEFAULT_PAGE,
    };
    let total = items.len();
    let out: Vec<T> = items.into_iter().skip(start).take(size).collect();
    let next = (start + size < total).then(|| encode_token(start + size));
    Ok((out, next))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatePortfolioInput {
    pub display_name: String,
    pub description: Option<String>,
    pub provider_name: String,
    pub tags: Option<Vec<Tag>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IdInput {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PageInput {
    page_token: Option<String>,
    page_size: Option<i64>,
}

/// `ProvisioningArtifactParameters` / `CreateProvisioningArtifact`'s `Parameters`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArtifactInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub info: Option<BTreeMap<String, String>>,
    #[serde(rename = "Type")]
    pub kind: Option<String>,
    pub disable_template_validation: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateProductInput {
    pub name: String,
    pub owner: String,
    pub description: Option<String>,
    pub distributor: Option<String>,
    pub support_description: Option<String>,
    pub support_email: Option<String>,
    pub support_url: Option<String>,
    pub product_type: String,
    pub tags: Option<Vec<Tag>>,
    pub provisioning_artifact_parameters: Option<ArtifactInput>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateProductInput {
    pub id: String,
    pub name: Option<String>,
    pub owner: Option<String>,
    pub description: Option<String>,
    pub distributor: Option<String>,
    pub support_description: Option<String>,
    pub support_email: Option<String>,
    pub support_url: Option<String>,
    pub add_tags: Option<Vec<Tag>>,
    pub remove_tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IdOrNameInput {
    id: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SearchProductsInput {
    portfolio_id: Option<String>,
    filters: Option<BTreeMap<String, Vec<String>>>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    page_token: Option<String>,
    page_size: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateArtifactInput {
    product_id: String,
    parameters: ArtifactInput,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListArtifactsInput {
    product_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeArtifactInput {
    product_id: Option<String>,
    product_name: Option<String>,
    provisioning_artifact_id: Option<String>,
    provisioning_artifact_name: Option<String>,
    verbose: Option<bool>,
    include_provisioning_artifact_parameters: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateArtifactInput {
    pub product_id: String,
    pub provisioning_artifact_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub active: Option<bool>,
    pub guidance: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ArtifactRefInput {
    product_id: String,
    provisioning_artifact_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssociationInput {
    product_id: String,
    portfolio_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListLaunchPathsInput {
    product_id: String,
    page_token: Option<String>,
    page_size: Option<i64>,
}

/// A product's launch path: its association with one portfolio.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchPath {
    pub id: String,
    pub portfolio: Portfolio,
}

/// The Service Catalog service. Cheap to share (`Arc`).
///
/// Launching runs stacks through a [`CloudFormationService`], which itself is built with
/// this service's resource providers: so the stack service is attached after both exist
/// ([`ServiceCatalogService::attach_cloudformation`]).
pub struct ServiceCatalogService {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) scope: Scope,
    templates: Option<Arc<dyn TemplateSource>>,
    pub(crate) cloudformation: OnceLock<Arc<CloudFormationService>>,
}

fn check_tags(tags: &[Tag]) -> Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(ScError::LimitExceeded(format!(
            "A resource can have at most {MAX_TAGS} tags."
        )));
    }
    let mut keys: Vec<&str> = tags.iter().map(|t| t.key.as_str()).collect();
    keys.sort_unstable();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return Err(ScError::InvalidParameters(
            "Duplicate tag keys are not allowed.".into(),
        ));
    }
    if let Some(t) = tags
        .iter()
        .find(|t| t.key.to_ascii_lowercase().starts_with("aws:"))
    {
        return Err(ScError::InvalidParameters(format!(
            "Tag keys starting with 'aws:' are reserved: {}",
            t.key
        )));
    }
    Ok(())
}

fn product_not_found(id: &str) -> ScError {
    ScError::ResourceNotFound(format!("Product {id} not found."))
}

fn portfolio_not_found(id: &str) -> ScError {
    ScError::ResourceNotFound(format!("Portfolio {id} not found."))
}

fn artifact_not_found(product: &str, artifact: &str) -> ScError {
    ScError::ResourceNotFound(format!(
        "Provisioning artifact {artifact} not found for product {product}."
    ))
}

impl ServiceCatalogService {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, scope: Scope) -> Self {
        ServiceCatalogService {
            store,
            clock,
            scope,
            templates: None,
            cloudformation: OnceLock::new(),
        }
    }

    /// With the system clock.
    pub fn with_system_clock(store: Arc<dyn Store>, region: &str, account_id: &str) -> Self {
        Self::new(
            store,
            Arc::new(SystemClock),
            Scope {
                region: region.into(),
                account_id: account_id.into(),
            },
        )
    }

    /// Where `LoadTemplateFromURL` is read. Without one, artifacts cannot be created.
    pub fn with_template_source(mut self, source: Arc<dyn TemplateSource>) -> Self {
        self.templates = Some(source);
        self
    }

    /// The stack service provisioned products run on (once; later calls are ignored).
    pub fn attach_cloudformation(&self, cloudformation: Arc<CloudFormationService>) {
        let _ = self.cloudformation.set(cloudformation);
    }

    /// The store this service keeps its state in.
    pub fn store_handle(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    fn now(&self) -> f64 {
        seconds(self.clock.now())
    }

    fn micros(&self) -> i64 {
        self.clock.now() * 1000
    }

    /// Runs one operation on a decoded JSON input.
    pub async fn handle(
        &self,
        ctx: &RequestContext,
        operation: &str,
        input: Value,
    ) -> Result<JsonOutput> {
        if !MODEL.has_operation(operation) {
            return Err(ScError::UnknownOperation(format!(
                "Operation {TARGET_PREFIX}.{operation} is not supported by this server"
            )));
        }
        let out = match operation {
            "CreatePortfolio" => {
                let p = self.create_portfolio(decode(operation, input)?).await?;
                json!({"PortfolioDetail": p.detail(), "Tags": tags_json(&p.tags)})
            }
            "DescribePortfolio" => {
                let i: IdInput = decode(operation, input)?;
                let p = self.portfolio(&i.id).await?;
                json!({
                    "PortfolioDetail": p.detail(),
                    "Tags": tags_json(&p.tags),
                    "TagOptions": [],
                    "Budgets": [],
                })
            }
            "ListPortfolios" => {
                let i: PageInput = decode(operation, input)?;
                let all = self.all::<Portfolio>(CatalogKind::Portfolio).await?;
                let (items, next) = page(all, i.page_token.as_deref(), i.page_size)?;
                let mut out = json!({
                    "PortfolioDetails": items.iter().map(Portfolio::detail).collect::<Vec<_>>()
                });
                if let Some(n) = next {
                    out["NextPageToken"] = n.into();
                }
                out
            }
            "DeletePortfolio" => {
                let i: IdInput = decode(operation, input)?;
                self.delete_portfolio(&i.id).await?;
                json!({})
            }
            "CreateProduct" => {
                let p = self.create_product(decode(operation, input)?).await?;
                json!({
                    "ProductViewDetail": p.view_detail(),
                    "ProvisioningArtifactDetail": p.artifacts.last().map(Artifact::detail),
                    "Tags": tags_json(&p.tags),
                })
            }
            "DescribeProduct" => {
                let i: IdOrNameInput = decode(operation, input)?;
                let p = self.product_by(i.id.as_deref(), i.name.as_deref()).await?;
                let paths = self.launch_paths(&p.id).await?;
                if paths.is_empty() {
                    // End users see only products a portfolio gives them.
                    return Err(product_not_found(i.id.as_deref().unwrap_or(&p.name)));
                }
                json!({
                    "ProductViewSummary": p.view_summary(paths.len() == 1),
                    "ProvisioningArtifacts": p.artifacts.iter().filter(|a| a.active).map(Artifact::summary).collect::<Vec<_>>(),
                    "Budgets": [],
                    "LaunchPaths": paths.iter().map(|l| json!({"Id": l.id, "Name": l.portfolio.display_name})).collect::<Vec<_>>(),
                })
            }
            "DescribeProductAsAdmin" => {
                let i: IdOrNameInput = decode(operation, input)?;
                let p = self.product_by(i.id.as_deref(), i.name.as_deref()).await?;
                json!({
                    "ProductViewDetail": p.view_detail(),
                    "ProvisioningArtifactSummaries": p.artifacts.iter().map(Artifact::admin_summary).collect::<Vec<_>>(),
                    "Tags": tags_json(&p.tags),
                    "TagOptions": [],
                    "Budgets": [],
                })
            }
            "SearchProducts" => {
                let i: SearchProductsInput = decode(operation, input)?;
                let mut products = Vec::new();
                for p in self.search(&i, None).await? {
                    let paths = self.launch_paths(&p.id).await?;
                    if !paths.is_empty() {
                        products.push((p, paths.len() == 1));
                    }
                }
                let (items, next) = page(products, i.page_token.as_deref(), i.page_size)?;
                let mut out = json!({
                    "ProductViewSummaries": items.iter().map(|(p, d)| p.view_summary(*d)).collect::<Vec<_>>(),
                    "ProductViewAggregations": {},
                });
                if let Some(n) = next {
                    out["NextPageToken"] = n.into();
                }
                out
            }
            "SearchProductsAsAdmin" => {
                let i: SearchProductsInput = decode(operation, input)?;
                let within = match &i.portfolio_id {
                    Some(id) => {
                        self.portfolio(id).await?;
                        Some(self.store.catalog_products_of(id).await?)
                    }
                    None => None,
                };
                let products = self.search(&i, within.as_deref()).await?;
                let (items, next) = page(products, i.page_token.as_deref(), i.page_size)?;
                let mut out = json!({
                    "ProductViewDetails": items.iter().map(Product::view_detail).collect::<Vec<_>>(),
                });
                if let Some(n) = next {
                    out["NextPageToken"] = n.into();
                }
                out
            }
            "UpdateProduct" => {
                let p = self.update_product(decode(operation, input)?).await?;
                json!({"ProductViewDetail": p.view_detail(), "Tags": tags_json(&p.tags)})
            }
            "DeleteProduct" => {
                let i: IdInput = decode(operation, input)?;
                self.delete_product(&i.id).await?;
                json!({})
            }
            "CreateProvisioningArtifact" => {
                let i: CreateArtifactInput = decode(operation, input)?;
                let a = self.create_artifact(&i.product_id, i.parameters).await?;
                json!({"ProvisioningArtifactDetail": a.detail(), "Info": a.info, "Status": "AVAILABLE"})
            }
            "ListProvisioningArtifacts" => {
                let i: ListArtifactsInput = decode(operation, input)?;
                let p = self.product(&i.product_id).await?;
                json!({
                    "ProvisioningArtifactDetails": p.artifacts.iter().map(Artifact::detail).collect::<Vec<_>>()
                })
            }
            "DescribeProvisioningArtifact" => {
                let i: DescribeArtifactInput = decode(operation, input)?;
                self.describe_artifact(i).await?
            }
            "UpdateProvisioningArtifact" => {
                let a = self.update_artifact(decode(operation, input)?).await?;
                json!({"ProvisioningArtifactDetail": a.detail(), "Info": a.info, "Status": "AVAILABLE"})
            }
            "DeleteProvisioningArtifact" => {
                let i: ArtifactRefInput = decode(operation, input)?;
                self.delete_artifact(&i.product_id, &i.provisioning_artifact_id)
                    .await?;
                json!({})
            }
            "AssociateProductWithPortfolio" => {
                let i: AssociationInput = decode(operation, input)?;
                self.associate(&i.portfolio_id, &i.product_id).await?;
                json!({})
            }
            "DisassociateProductFromPortfolio" => {
                let i: AssociationInput = decode(operation, input)?;
                self.disassociate(&i.portfolio_id, &i.product_id).await?;
                json!({})
            }
            "ListLaunchPaths" => {
                let i: ListLaunchPathsInput = decode(operation, input)?;
                self.product(&i.product_id).await?;
                let paths = self.launch_paths(&i.product_id).await?;
                let (items, next) = page(paths, i.page_token.as_deref(), i.page_size)?;
                let mut out = json!({
                    "LaunchPathSummaries": items.iter().map(|l| json!({
                        "Id": l.id,
                        "Name": l.portfolio.display_name,
                        "ConstraintSummaries": [],
                        "Tags": tags_json(&l.portfolio.tags),
                    })).collect::<Vec<_>>()
                });
                if let Some(n) = next {
                    out["NextPageToken"] = n.into();
                }
                out
            }
            _ => return self.handle_launch(ctx, operation, input).await,
        };
        Ok(JsonOutput::Value(out))
    }

    // ---- reading ----------------------------------------------------------------------

    pub(crate) async fn read<T: DeserializeOwned>(
        &self,
        kind: CatalogKind,
        id: &str,
    ) -> Result<Option<(i64, T)>> {
        match self.store.catalog_get(kind, id).await? {
            Some(r) => Ok(Some((r.version, parse(&r)?))),
            None => Ok(None),
        }
    }

    /// Every document of a kind, oldest first.
    pub(crate) async fn all<T: DeserializeOwned>(&self, kind: CatalogKind) -> Result<Vec<T>> {
        const BATCH: usize = 500;
        let mut out = Vec::new();
        let mut after: Option<CatalogCursor> = None;
        loop {
            let batch = self.store.catalog_list(kind, after.as_ref(), BATCH).await?;
            let done = batch.len() < BATCH;
            if let Some(last) = batch.last() {
                after = Some(CatalogCursor {
                    created_micros: last.created_micros,
                    id: last.id.clone(),
                });
            }
            for r in &batch {
                out.push(parse(r)?);
            }
            if done {
                return Ok(out);
            }
        }
    }

    pub async fn portfolio(&self, id: &str) -> Result<Portfolio> {
        self.read(CatalogKind::Portfolio, id)
            .await?
            .map(|(_, p)| p)
            .ok_or_else(|| portfolio_not_found(id))
    }

    pub async fn product(&self, id: &str) -> Result<Product> {
        self.read(CatalogKind::Product, id)
            .await?
            .map(|(_, p)| p)
            .ok_or_else(|| product_not_found(id))
    }

    /// Every portfolio, oldest first.
    pub async fn portfolios(&self) -> Result<Vec<Portfolio>> {
        self.all(CatalogKind::Portfolio).await
    }

    /// Every product, oldest first.
    pub async fn products(&self) -> Result<Vec<Product>> {
        self.all(CatalogKind::Product).await
    }

    /// The product with this id, or else the one with this name.
    pub async fn product_by(&self, id: Option<&str>, name: Option<&str>) -> Result<Product> {
        match (id, name) {
            (Some(id), _) => self.product(id).await,
            (None, Some(name)) => self
                .all::<Product>(CatalogKind::Product)
                .await?
                .into_iter()
                .find(|p| p.name == name)
                .ok_or_else(|| product_not_found(name)),
            (None, None) => Err(ScError::InvalidParameters(
                "Either Id or Name must be specified.".into(),
            )),
        }
    }

    /// The product's launch paths, oldest association first.
    pub async fn launch_paths(&self, product_id: &str) -> Result<Vec<LaunchPath>> {
        let mut out = Vec::new();
        for portfolio_id in self.store.catalog_portfolios_of(product_id).await? {
            if let Ok(portfolio) = self.portfolio(&portfolio_id).await {
                out.push(LaunchPath {
                    id: launch_path_id(&portfolio_id, product_id),
                    portfolio,
                });
            }
        }
        Ok(out)
    }

    async fn search(
        &self,
        input: &SearchProductsInput,
        within: Option<&[String]>,
    ) -> Result<Vec<Product>> {
        let mut products: Vec<Product> = self
            .all::<Product>(CatalogKind::Product)
            .await?
            .into_iter()
            .filter(|p| within.is_none_or(|ids| ids.contains(&p.id)))
            .collect();
        for (key, values) in input.filters.iter().flatten() {
            let values: Vec<String> = values.iter().map(|v| v.to_lowercase()).collect();
            products.retain(|p| {
                let fields: Vec<&str> = match key.as_str() {
                    "FullTextSearch" => [Some(&p.name), Some(&p.owner), p.description.as_ref()]
                        .into_iter()
                        .flatten()
                        .map(String::as_str)
                        .collect(),
                    "Owner" => vec![p.owner.as_str()],
                    "ProductType" => vec![p.product_type.as_str()],
                    _ => Vec::new(),
                };
                values.iter().any(|v| {
                    fields.iter().any(|f| {
                        let f = f.to_lowercase();
                        if key == "FullTextSearch" {
                            f.contains(v.as_str())
                        } else {
                            f == *v
                        }
                    })
                })
            });
        }
        match input.sort_by.as_deref() {
            Some("Title") => products.sort_by(|a, b| a.name.cmp(&b.name)),
            Some("VersionCount") => products.sort_by_key(|p| p.artifacts.len()),
            _ => {} // CreationDate: already oldest first.
        }
        if input.sort_order.as_deref() == Some("DESCENDING") {
            products.reverse();
        }
        Ok(products)
    }

    async fn describe_artifact(&self, i: DescribeArtifactInput) -> Result<Value> {
        let p = self
            .product_by(i.product_id.as_deref(), i.product_name.as_deref())
            .await?;
        let a = match (&i.provisioning_artifact_id, &i.provisioning_artifact_name) {
            (Some(id), _) => p.artifact(id),
            (None, Some(name)) => p.artifacts.iter().find(|a| &a.name == name),
            (None, None) => {
                return Err(ScError::InvalidParameters(
                    "Either ProvisioningArtifactId or ProvisioningArtifactName must be specified."
                        .into(),
                ));
            }
        }
        .ok_or_else(|| {
            artifact_not_found(
                &p.id,
                i.provisioning_artifact_id
                    .as_deref()
                    .or(i.provisioning_artifact_name.as_deref())
                    .unwrap_or_default(),
            )
        })?;
        let mut out = json!({
            "ProvisioningArtifactDetail": a.detail(),
            "Info": if i.verbose.unwrap_or(false) {
                let mut info = json!(a.info);
                info["TemplateBody"] = a.template_body.clone().into();
                info
            } else {
                json!(a.info)
            },
            "Status": "AVAILABLE",
        });
        if i.include_provisioning_artifact_parameters.unwrap_or(false) {
            out["ProvisioningArtifactParameters"] = template_parameters(&a.template_body);
        }
        Ok(out)
    }

    // ---- writing ----------------------------------------------------------------------

    pub async fn create_portfolio(&self, input: CreatePortfolioInput) -> Result<Portfolio> {
        let tags = input.tags.unwrap_or_default();
        check_tags(&tags)?;
        let id = new_id("port-");
        let p = Portfolio {
            arn: self.scope.portfolio_arn(&id),
            id,
            display_name: input.display_name,
            description: input.description,
            provider_name: input.provider_name,
            created_time: self.now(),
            tags,
        };
        self.insert(CatalogKind::Portfolio, &p.id, None, &p).await?;
        Ok(p)
    }

    /// Changes a portfolio's display name, description or provider (the native
    /// provider's update; the API has no UpdatePortfolio here).
    pub async fn update_portfolio(
        &self,
        id: &str,
        change: impl Fn(&mut Portfolio),
    ) -> Result<Portfolio> {
        self.modify(CatalogKind::Portfolio, id, portfolio_not_found, |p| {
            change(p);
            Ok(())
        })
        .await
    }

    pub async fn delete_portfolio(&self, id: &str) -> Result<()> {
        match self.store.catalog_delete(CatalogKind::Portfolio, id).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(portfolio_not_found(id)),
            Err(StoreError::Conflict) => Err(ScError::ResourceInUse(format!(
                "Portfolio {id} has products associated with it. Disassociate them before deleting the portfolio."
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn create_product(&self, input: CreateProductInput) -> Result<Product> {
        if input.product_type != "CLOUD_FORMATION_TEMPLATE" {
            return Err(ScError::InvalidParameters(format!(
                "Product type {} is not supported: only CLOUD_FORMATION_TEMPLATE products can be created here.",
                input.product_type
            )));
        }
        if input.name.trim().is_empty() {
            return Err(ScError::InvalidParameters(
                "Product name must not be empty.".into(),
            ));
        }
        if input.owner.trim().is_empty() {
            return Err(ScError::InvalidParameters(
                "Product owner must not be empty.".into(),
            ));
        }
        let tags = input.tags.unwrap_or_default();
        check_tags(&tags)?;
        let Some(params) = input.provisioning_artifact_parameters else {
            return Err(ScError::InvalidParameters(
                "ProvisioningArtifactParameters is required for a CLOUD_FORMATION_TEMPLATE product."
                    .into(),
            ));
        };
        let artifact = self.new_artifact(params, "v1").await?;
        let id = new_id("prod-");
        let p = Product {
            arn: self.scope.product_arn(&id),
            view_id: new_id("prodview-"),
            id,
            name: input.name,
            owner: input.owner,
            description: input.description,
            distributor: input.distributor,
            support_description: input.support_description,
            support_email: input.support_email,
            support_url: input.support_url,
            product_type: input.product_type,
            created_time: self.now(),
            tags,
            artifacts: vec![artifact],
        };
        self.insert(CatalogKind::Product, &p.id, None, &p).await?;
        Ok(p)
    }

    pub async fn update_product(&self, input: UpdateProductInput) -> Result<Product> {
        let id = input.id.clone();
        self.modify(
            CatalogKind::Product,
            &id,
            product_not_found,
            |p: &mut Product| {
                if let Some(n) = &input.name {
                    p.name = n.clone();
                }
                if let Some(o) = &input.owner {
                    p.owner = o.clone();
                }
                for (field, value) in [
                    (&mut p.description, &input.description),
                    (&mut p.distributor, &input.distributor),
                    (&mut p.support_description, &input.support_description),
                    (&mut p.support_email, &input.support_email),
                    (&mut p.support_url, &input.support_url),
                ] {
                    if let Some(v) = value {
                        *field = Some(v.clone());
                    }
                }
                let add = input.add_tags.clone().unwrap_or_default();
                check_tags(&add)?;
                let remove = input.remove_tags.clone().unwrap_or_default();
                p.tags.retain(|t| !remove.contains(&t.key));
                for t in add {
                    match p.tags.iter_mut().find(|c| c.key == t.key) {
                        Some(c) => c.value = t.value,
                        None => p.tags.push(t),
                    }
                }
                if p.tags.len() > MAX_TAGS {
                    return Err(ScError::LimitExceeded(format!(
                        "A resource can have at most {MAX_TAGS} tags."
                    )));
                }
                Ok(())
            },
        )
        .await
    }

    pub async fn delete_product(&self, id: &str) -> Result<()> {
        match self.store.catalog_delete(CatalogKind::Product, id).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(product_not_found(id)),
            Err(StoreError::Conflict) => Err(ScError::ResourceInUse(format!(
                "Product {id} is associated with one or more portfolios. Disassociate it before deleting the product."
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads and validates an artifact's template; `default_name` when none is given.
    async fn new_artifact(&self, input: ArtifactInput, default_name: &str) -> Result<Artifact> {
        let kind = input
            .kind
            .clone()
            .unwrap_or_else(|| "CLOUD_FORMATION_TEMPLATE".into());
        if kind != "CLOUD_FORMATION_TEMPLATE" {
            return Err(ScError::InvalidParameters(format!(
                "Provisioning artifact type {kind} is not supported: only CLOUD_FORMATION_TEMPLATE."
            )));
        }
        let info = input.info.clone().unwrap_or_default();
        if info.contains_key("ImportFromPhysicalId") {
            return Err(ScError::InvalidParameters(
                "ImportFromPhysicalId is not supported; use LoadTemplateFromURL.".into(),
            ));
        }
        let Some(url) = info.get("LoadTemplateFromURL") else {
            return Err(ScError::InvalidParameters(
                "Invalid Info: LoadTemplateFromURL is required.".into(),
            ));
        };
        let Some(source) = &self.templates else {
            return Err(ScError::InvalidParameters(format!(
                "Unable to load the template from {url}: no object store is configured."
            )));
        };
        let body = source.fetch(url, S3_TEMPLATE_LIMIT).await.map_err(|e| {
            ScError::InvalidParameters(format!("Unable to load the template from {url}: {e}"))
        })?;
        if !input.disable_template_validation.unwrap_or(false) {
            check_template(&body)?;
        }
        Ok(Artifact {
            id: new_id("pa-"),
            name: input.name.unwrap_or_else(|| default_name.to_string()),
            description: input.description,
            kind,
            created_time: self.now(),
            active: true,
            guidance: "DEFAULT".into(),
            info,
            template_body: body,
        })
    }

    pub async fn create_artifact(
        &self,
        product_id: &str,
        input: ArtifactInput,
    ) -> Result<Artifact> {
        let current = self.product(product_id).await?;
        let default_name = format!("v{}", current.artifacts.len() + 1);
        if let Some(name) = &input.name
            && current.artifacts.iter().any(|a| &a.name == name)
        {
            return Err(ScError::InvalidParameters(format!(
                "A provisioning artifact named {name} already exists for product {product_id}."
            )));
        }
        let artifact = self.new_artifact(input, &default_name).await?;
        let added = artifact.clone();
        self.modify(
            CatalogKind::Product,
            product_id,
            product_not_found,
            |p: &mut Product| {
                if p.artifacts.len() >= MAX_ARTIFACTS {
                    return Err(ScError::LimitExceeded(format!(
                        "A product can have at most {MAX_ARTIFACTS} provisioning artifacts."
                    )));
                }
                if p.artifacts.iter().any(|a| a.name == added.name) {
                    return Err(ScError::InvalidParameters(format!(
                        "A provisioning artifact named {} already exists for product {product_id}.",
                        added.name
                    )));
                }
                p.artifacts.push(added.clone());
                Ok(())
            },
        )
        .await?;
        Ok(artifact)
    }

    pub async fn update_artifact(&self, input: UpdateArtifactInput) -> Result<Artifact> {
        let artifact_id = input.provisioning_artifact_id.clone();
        let product_id = input.product_id.clone();
        let p = self
            .modify(
                CatalogKind::Product,
                &product_id,
                product_not_found,
                |p: &mut Product| {
                    let a = p
                        .artifacts
                        .iter_mut()
                        .find(|a| a.id == artifact_id)
                        .ok_or_else(|| artifact_not_found(&product_id, &artifact_id))?;
                    if let Some(n) = &input.name {
                        a.name = n.clone();
                    }
                    if let Some(d) = &input.description {
                        a.description = Some(d.clone());
                    }
                    if let Some(active) = input.active {
                        a.active = active;
                    }
                    if let Some(g) = &input.guidance {
                        a.guidance = g.clone();
                    }
                    Ok(())
                },
            )
            .await?;
        p.artifact(&input.provisioning_artifact_id)
            .cloned()
            .ok_or_else(|| artifact_not_found(&input.product_id, &input.provisioning_artifact_id))
    }

    pub async fn delete_artifact(&self, product_id: &str, artifact_id: &str) -> Result<()> {
        let used = self
            .all::<crate::model::ProvisionedProduct>(CatalogKind::ProvisionedProduct)
            .await?
            .into_iter()
            .any(|pp| pp.product_id == product_id && pp.provisioning_artifact_id == artifact_id);
        if used {
            return Err(ScError::ResourceInUse(format!(
                "Provisioning artifact {artifact_id} is used by one or more provisioned products."
            )));
        }
        self.modify(
            CatalogKind::Product,
            product_id,
            product_not_found,
            |p: &mut Product| {
                let Some(i) = p.artifacts.iter().position(|a| a.id == artifact_id) else {
                    return Err(artifact_not_found(product_id, artifact_id));
                };
                if p.artifacts.len() == 1 {
                    return Err(ScError::InvalidParameters(
                        "The last provisioning artifact of a product cannot be deleted.".into(),
                    ));
                }
                p.artifacts.remove(i);
                Ok(())
            },
        )
        .await?;
        Ok(())
    }

    pub async fn associate(&self, portfolio_id: &str, product_id: &str) -> Result<()> {
        match self
            .store
            .catalog_associate(portfolio_id, product_id, self.micros())
            .await
        {
            Ok(_) => Ok(()),
            Err(StoreError::NotFound) => {
                self.portfolio(portfolio_id).await?;
                Err(product_not_found(product_id))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn disassociate(&self, portfolio_id: &str, product_id: &str) -> Result<()> {
        if self
            .store
            .catalog_disassociate(portfolio_id, product_id)
            .await?
        {
            return Ok(());
        }
        self.portfolio(portfolio_id).await?;
        self.product(product_id).await?;
        Err(ScError::ResourceNotFound(format!(
            "Product {product_id} is not associated with portfolio {portfolio_id}."
        )))
    }

    // ---- storage helpers -------------------------------------------------------------

    pub(crate) async fn insert<T: serde::Serialize>(
        &self,
        kind: CatalogKind,
        id: &str,
        name: Option<&str>,
        value: &T,
    ) -> Result<()> {
        let record = CatalogRecord {
            id: id.to_string(),
            name: name.map(str::to_string),
            version: 1,
            created_micros: self.micros(),
            document: Arc::from(serde_json::to_string(value).map_err(internal)?),
        };
        self.store.catalog_insert(kind, &record).await?;
        Ok(())
    }

    /// Reads, changes and writes back a document, retrying when another writer got there
    /// first (optimistic concurrency); the stored result.
    pub(crate) async fn modify<T, F>(
        &self,
        kind: CatalogKind,
        id: &str,
        not_found: fn(&str) -> ScError,
        mut change: F,
    ) -> Result<T>
    where
        T: DeserializeOwned + serde::Serialize,
        F: FnMut(&mut T) -> Result<()>,
    {
        for _ in 0..16 {
            let Some(record) = self.store.catalog_get(kind, id).await? else {
                return Err(not_found(id));
            };
            let mut value: T = parse(&record)?;
            change(&mut value)?;
            let next = CatalogRecord {
                version: record.version + 1,
                document: Arc::from(serde_json::to_string(&value).map_err(internal)?),
                ..record.clone()
            };
            match self.store.catalog_update(kind, &next, record.version).await {
                Ok(()) => return Ok(value),
                Err(StoreError::Conflict) => continue,
                Err(StoreError::NotFound) => return Err(not_found(id)),
                Err(e) => return Err(e.into()),
            }
        }
        Err(ScError::Internal(format!(
            "{id} is being changed concurrently; try again"
        )))
    }
}

pub(crate) fn internal(e: impl std::fmt::Display) -> ScError {
    ScError::Internal(e.to_string())
}

pub(crate) fn parse<T: DeserializeOwned>(record: &CatalogRecord) -> Result<T> {
    serde_json::from_str(&record.document)
        .map_err(|e| ScError::Internal(format!("stored document {} is unreadable: {e}", record.id)))
}

/// What CloudFormation's template layer says about a template, as AWS's
/// `InvalidParametersException` for an artifact.
pub fn check_template(body: &str) -> Result<()> {
    use sagestack_template::{Limits, Template};
    let template = Template::parse_with(body, &Limits::s3())
        .map_err(|e| ScError::InvalidParameters(format!("Invalid templateBody. {}", e.message)))?;
    template.validate().map_err(|errors| {
        ScError::InvalidParameters(format!(
            "Invalid templateBody. {}",
            errors
                .first()
                .map(|e| e.message.as_str())
                .unwrap_or("Template format error")
        ))
    })
}

/// `ProvisioningArtifactParameters`: the template's declared parameters.
fn template_parameters(body: &str) -> Value {
    use sagestack_template::{Limits, Template};
    let Ok(template) = Template::parse_with(body, &Limits::s3()) else {
        return json!([]);
    };
    Value::Array(
        template
            .parameters()
            .into_iter()
            .map(|p| {
                let mut v = json!({
                    "ParameterKey": p.name,
                    "ParameterType": p.param_type,
                    "IsNoEcho": p.no_echo,
                    "ParameterConstraints": {
                        "AllowedValues": p.allowed_values.clone().unwrap_or_default(),
                    },
                });
                if let Some(d) = p.default {
                    v["DefaultValue"] = d.into();
                }
                if let Some(d) = p.description {
                    v["Description"] = d.into();
                }
                v
            })
            .collect(),
    )
}

#[async_trait::async_trait]
impl Json11Service for ServiceCatalogService {
    fn target_prefix(&self) -> &'static str {
        TARGET_PREFIX
    }

    async fn call(
        &self,
        ctx: &RequestContext,
        operation: &str,
        input: Value,
    ) -> std::result::Result<JsonOutput, Box<dyn AwsError>> {
        self.handle(ctx, operation, input)
            .await
            .map_err(|e| Box::new(e) as Box<dyn AwsError>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_model_has_every_operation() {
        for op in [
            "CreatePortfolio",
            "CreateProduct",
            "ProvisionProduct",
            "DisassociateProductFromPortfolio",
            "DescribeRecord",
        ] {
            assert!(MODEL.has_operation(op), "{op}");
        }
    }

    #[test]
    fn pages_walk_every_item_once() {
        let items: Vec<u32> = (0..45).collect();
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let (page, next) = page(items.clone(), token.as_deref(), Some(20)).unwrap();
            seen.extend(page);
            match next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        assert_eq!(seen, items);
        let (first, _) = page(items.clone(), None, None).unwrap();
        assert_eq!(first.len(), DEFAULT_PAGE);
        assert!(matches!(
            page(items, Some("bogus"), None),
            Err(ScError::InvalidParameters(_))
        ));
    }

    #[test]
    fn tag_rules() {
        let tag = |k: &str| Tag {
            key: k.into(),
            value: "v".into(),
        };
        assert!(check_tags(&[tag("a"), tag("b")]).is_ok());
        assert!(matches!(
            check_tags(&[tag("a"), tag("a")]),
            Err(ScError::InvalidParameters(_))
        ));
        assert!(matches!(
            check_tags(&[tag("aws:x")]),
            Err(ScError::InvalidParameters(_))
        ));
        let many: Vec<Tag> = (0..21).map(|i| tag(&format!("k{i}"))).collect();
        assert!(matches!(check_tags(&many), Err(ScError::LimitExceeded(_))));
    }

    #[test]
    fn templates_are_checked_as_cloudformation_would() {
        assert!(check_template("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n").is_ok());
        let e = check_template("Resources:\n  Q:\n    Properties: {}\n").unwrap_err();
        assert!(e.to_string().starts_with("Invalid templateBody. "), "{e}");
        assert!(check_template("{not yaml: [").is_err());
    }
}
