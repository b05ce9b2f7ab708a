"""CloudFormation as AWS runs it (issue #23): templates AWS deploys that a stricter
reader or a simpler engine would refuse or mis-run, each with its minimal repro."""
from conftest import settled_stack
from conftest import stack_events as events


def test_quoted_scalars_and_flow_collections_may_sit_left_of_their_block(cfn):
    # CloudFormation's YAML reader takes a multi-line quoted scalar whose closing line sits
    # at the key's indentation, and flow collections continued further left (item 2).
    template = '''Resources:
  Param:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Value: "line one
        line two
      "
      Description: !Join [" ", [a,
    b]]
Outputs:
  Value:
    Value: !GetAtt Param.Value
'''
    cfn.create_stack(StackName="yaml", TemplateBody=template)
    stack = settled_stack(cfn, "yaml")
    assert stack["StackStatus"] == "CREATE_COMPLETE", events(cfn, "yaml")
    assert stack["Outputs"][0]["OutputValue"] == "line one line two "


VPC_WITH_IPV6 = '''Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: 10.0.0.0/16
  Ipv6Block:
    Type: AWS::EC2::VPCCidrBlock
    Properties:
      VpcId: !Ref Vpc
      AmazonProvidedIpv6CidrBlock: true
  SecondIpv4:
    Type: AWS::EC2::VPCCidrBlock
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: 10.1.0.0/16
  Subnet:
    Type: AWS::EC2::Subnet
    DependsOn: [Ipv6Block, SecondIpv4]
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: 10.0.0.0/24
      Ipv6CidrBlock: !Select [0, !Cidr [!Select [0, !GetAtt Vpc.Ipv6CidrBlocks], 4, 64]]
Outputs:
  VpcBlocks:
    Value: !Join [",", !GetAtt Vpc.Ipv6CidrBlocks]
  Associations:
    Value: !Join [",", !GetAtt Vpc.CidrBlockAssociations]
  SubnetBlocks:
    Value: !Join [",", !GetAtt Subnet.Ipv6CidrBlocks]
'''


def test_attributes_that_other_resources_amend(cfn):
    # A VPCCidrBlock adds its block to the VPC's Ipv6CidrBlocks (or its association to
    # CidrBlockAssociations), so a subnet that depends on it can carve from it (item 7).
    cfn.create_stack(StackName="vpc6", TemplateBody=VPC_WITH_IPV6)
    stack = settled_stack(cfn, "vpc6")
    assert stack["StackStatus"] == "CREATE_COMPLETE", events(cfn, "vpc6")
    out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    [vpc_block] = out["VpcBlocks"].split(",")
    assert vpc_block.endswith("00::/56"), vpc_block
    # The subnet's block is the first /64 of the VPC's /56.
    assert out["SubnetBlocks"] == vpc_block.replace("/56", "/64")
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                for r in cfn.describe_stack_resources(StackName="vpc6")["StackResources"]}
    primary, added = out["Associations"].split(",")
    assert primary.startswith("vpc-cidr-assoc-")
    # The association's id (the block's physical id is `assoc-id|vpc-id`).
    assert physical["SecondIpv4"].split("|")[0] == added != primary
    # Without the blocks the lists are the VPC's own again.
    template = VPC_WITH_IPV6.split("  Ipv6Block:")[0] + '''Outputs:
  VpcBlocks:
    Value: !Join [",", !GetAtt Vpc.Ipv6CidrBlocks]
  Associations:
    Value: !Join [",", !GetAtt Vpc.CidrBlockAssociations]
'''
    cfn.update_stack(StackName="vpc6", TemplateBody=template)
    stack = settled_stack(cfn, "vpc6")
    assert stack["StackStatus"] == "UPDATE_COMPLETE", events(cfn, "vpc6")
    out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert out == {"VpcBlocks": "", "Associations": primary}
