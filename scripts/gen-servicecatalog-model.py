#!/usr/bin/env python3
"""Generate crates/servicecatalog/model/servicecatalog.json: the input shapes of the Service
Catalog operations sagestack serves, without documentation strings, in the compact form the
shared validator reads (the compaction is scripts/model_gen.py).

Source: the full botocore model of an installed botocore
(servicecatalog/2015-12-10/service-2.json[.gz], the default, because it also has
DisassociateProductFromPortfolio) or a file given on the command line, such as the extracted
reference copy /work/shared/reference/servicecatalog-shapes.json:

    python3 scripts/gen-servicecatalog-model.py [SOURCE.json]
"""
import model_gen

OPERATIONS = [
    "CreatePortfolio", "DescribePortfolio", "ListPortfolios", "DeletePortfolio",
    "CreateProduct", "DescribeProduct", "DescribeProductAsAdmin", "SearchProducts",
    "SearchProductsAsAdmin", "UpdateProduct", "DeleteProduct",
    "CreateProvisioningArtifact", "ListProvisioningArtifacts", "DescribeProvisioningArtifact",
    "UpdateProvisioningArtifact", "DeleteProvisioningArtifact",
    "AssociateProductWithPortfolio", "DisassociateProductFromPortfolio", "ListLaunchPaths",
    "ProvisionProduct", "UpdateProvisionedProduct", "TerminateProvisionedProduct",
    "DescribeProvisionedProduct", "SearchProvisionedProducts", "ScanProvisionedProducts",
    "DescribeRecord",
    # What Terraform's aws_servicecatalog_* resources read and write besides (#22).
    "UpdatePortfolio", "ListPortfoliosForProduct",
    "AssociatePrincipalWithPortfolio", "DisassociatePrincipalFromPortfolio",
    "ListPrincipalsForPortfolio",
    "CreateConstraint", "DescribeConstraint", "UpdateConstraint", "DeleteConstraint",
    "ListConstraintsForPortfolio",
]


if __name__ == "__main__":
    model_gen.main(
        OPERATIONS,
        "servicecatalog/model/servicecatalog.json",
        "servicecatalog/2015-12-10",
    )
