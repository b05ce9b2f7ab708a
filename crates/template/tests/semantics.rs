//! Behaviour of validation, binding and resolution on small hand-written templates.

use std::collections::BTreeMap;
use std::sync::Arc;

use sagestack_template::*;
use serde_json::{Value, json};

/// Fake lookup: physical id `<id>-pid`, attributes `<id>.<attr>`.
struct Fake;
impl ResourceLookup for Fake {
    fn physical_id(&self, id: &str) -> Option<String> {
        Some(format!("{id}-pid"))
    }
    fn attribute(&self, id: &str, attr: &str) -> Option<Value> {
        Some(Value::String(format!("{id}.{attr}")))
    }
}

fn errors(body: &str) -> Vec<TemplateError> {
    match Template::parse(body) {
        Err(e) => vec![e],
        Ok(t) => t.validate().err().unwrap_or_default(),
    }
}

/// The logical ids of `b`'s resources, in the order it binds them.
fn logical_ids(b: &BoundTemplate) -> Vec<&str> {
    b.resources()
        .iter()
        .map(|r| r.logical_id.as_str())
        .collect()
}

fn bind(body: &str, params: &[(&str, &str)]) -> Result<BoundTemplate, Errors> {
    bind_env(body, params, StaticEnvironment::default())
}

fn bind_env(
    body: &str,
    params: &[(&str, &str)],
    env: StaticEnvironment,
) -> Result<BoundTemplate, Errors> {
    let t = Template::parse(body).map_err(|e| vec![e])?;
    let p: BTreeMap<String, String> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    t.bind(&p, &StackContext::example(), Arc::new(env))
}

#[test]
fn reports_every_error_with_location() {
    let e = errors(concat!(
        "AWSTemplateFormatVersion: '2011-01-01'\n",
        "Foo: 1\n",
        "Resources:\n",
        "  Bad-Id:\n",
        "    Type: X::Y::Z\n",
        "  A:\n",
        "    Type: X::Y::Z\n",
        "    Condition: Nope\n",
        "    Propertiess: {}\n",
        "    Properties:\n",
        "      P: !Ref Missing\n",
        "      Q: !GetAtt Ghost.Arn\n",
        "      R: {'Fn::Bogus': 1}\n",
        "      S: !Sub '${Other}'\n",
        "  NoType:\n",
        "    Properties: {}\n",
    ));
    let msgs: Vec<String> = e
        .iter()
        .map(|e| format!("{}:{} {}", e.location.unwrap().line, e.code, e.message))
        .collect();
    let expect = [
        "1:E1001 Template format error: Unsupported AWSTemplateFormatVersion; the only valid version is 2010-09-09",
        "2:E1001 Template format error: Invalid template property or properties [Foo]",
        "4:E1002 Template format error: Resource name Bad-Id is non alphanumeric or longer than 255 characters.",
        "8:E1028 Template format error: Unresolved condition dependency Nope in the Resources block of the template",
        "9:E1003 Invalid template resource property 'Propertiess'",
        "11:E1012 Template format error: Unresolved resource dependencies [Missing] in the Resources block of the template",
        "12:E1012 Template error: instance of Fn::GetAtt references undefined resource Ghost",
        "13:E1010 Template format error: Encountered unsupported function: Fn::Bogus",
        "14:E1012 Template format error: Unresolved resource dependencies [Other] in the Resources block of the template",
        "15:E1003 Template format error: [/Resources/NoType] Every Resources object must contain a Type member.",
    ];
    for x in expect {
        assert!(msgs.iter().any(|m| m == x), "missing {x:?} in {msgs:#?}");
    }
    assert_eq!(msgs.len(), expect.len(), "{msgs:#?}");
}

#[test]
fn parameters_and_resources_share_a_namespace() {
    let e = errors("Parameters:\n  Name: {Type: String}\nResources:\n  Name: {Type: X::Y::Z}\n");
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0].message,
        "Template format error: logical ID Name is used by both a parameter and a resource"
    );
    assert_eq!(e[0].location.map(|p| p.line), Some(4));
}

#[test]
fn resources_are_required() {
    assert_eq!(
        errors("Description: x\n")[0].message,
        "Template format error: At least one Resources member must be defined."
    );
    assert_eq!(
        errors("Resources: {}\n")[0].message,
        "Template format error: At least one Resources member must be defined."
    );
}

#[test]
fn limits_are_counted() {
    let mut body = String::from("Resources:\n");
    for i in 0..501 {
        body.push_str(&format!("  R{i}:\n    Type: X::Y::Z\n"));
    }
    let e = errors(&body);
    assert_eq!(
        e[0].message,
        "Template format error: Number of resources, 501, is greater than maximum allowed, 500"
    );
    let long = "D".repeat(1025);
    let e = errors(&format!(
        "Description: {long}\nResources:\n  A:\n    Type: X::Y::Z\n"
    ));
    assert_eq!(
        e[0].message,
        "Template format error: 'Description' length is greater than 1024."
    );
}

#[test]
fn cycles_name_every_member() {
    let e = errors(concat!(
        "Resources:\n",
        "  A: {Type: X::Y::Z, Properties: {P: !Ref B}}\n",
        "  B: {Type: X::Y::Z, Properties: {P: !GetAtt C.Arn}}\n",
        "  C: {Type: X::Y::Z, Properties: {P: !Sub '${A}'}}\n",
        "  D: {Type: X::Y::Z, DependsOn: E}\n",
        "  E: {Type: X::Y::Z, DependsOn: [D]}\n",
        "  F: {Type: X::Y::Z, DependsOn: A}\n",
    ));
    let msgs: Vec<&str> = e.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "Circular dependency between resources: [A, B, C]",
            "Circular dependency between resources: [D, E]"
        ]
    );
}

#[test]
fn conditions_references_and_transforms() {
    let e = errors(concat!(
        "Conditions:\n",
        "  C1: !Equals [!Ref R, x]\n",
        "  C2: !And [!Condition C1, !Condition Nope]\n",
        "Resources:\n",
        "  R: {Type: X::Y::Z, Properties: {P: !If [Missing, a, b]}}\n",
    ));
    let msgs: Vec<&str> = e.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "Template format error: Unresolved dependencies [R]. Cannot reference resources in the Conditions block of the template",
            "Template format error: Unresolved condition dependencies [Nope] in the Conditions block of the template",
            "Template format error: Unresolved condition dependency Missing in the Resources block of the template",
        ]
    );
    let e = errors(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  F: {Type: AWS::Serverless::Function}\n",
    );
    assert_eq!(e[0].code, ErrorCode::Transform);
    assert!(e[0].message.contains("not supported"));
    let e = errors("Resources:\n  R: {Type: X::Y::Z, Properties: {N: !Length [1, 2]}}\n");
    assert!(e[0].message.contains("Fn::Length"), "{}", e[0].message);
}

#[test]
fn resolves_every_intrinsic() {
    let body = r#"
Parameters:
  Env: {Type: String, AllowedValues: [prod, dev], Default: dev}
  Subnets: {Type: CommaDelimitedList, Default: "a, b"}
  Secret: {Type: String, NoEcho: true}
Mappings:
  Region: {us-east-1: {Ami: ami-1}}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  NotProd: !Not [!Condition IsProd]
  Both: !Or [!Condition IsProd, !Condition NotProd]
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: 10.0.0.0/16
  Subnet:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      Cidr: !Select [1, !Cidr [10.0.0.0/16, 4, 8]]
      V6: !Cidr ['2001:db8::/56', 2, 64]
      Az: !Select [0, !GetAZs '']
      Name: !Sub '${AWS::StackName}-${Env}-${Vpc.CidrBlock}-${!Literal}'
      Named: !Sub ['${X}-${Y}', {X: !Ref Env, Y: !FindInMap [Region, !Ref 'AWS::Region', Ami]}]
      Joined: !Join [',', !Ref Subnets]
      Split: !Split ['|', 'a|b']
      Maybe: !If [IsProd, yes-prod, !Ref 'AWS::NoValue']
      List: [1, !If [IsProd, 2, !Ref 'AWS::NoValue'], 3]
      UserData: !Base64 'hi'
      Imported: !ImportValue shared-vpc
      Pseudo: [!Ref 'AWS::AccountId', !Ref 'AWS::Partition', !Ref 'AWS::URLSuffix', !Ref 'AWS::Region']
      Password: '{{resolve:ssm-secure:/db/pw:2}}'
      Plain: 'x-{{resolve:ssm:/plain}}-y'
  Prod:
    Type: X::Y::Z
    Condition: IsProd
Outputs:
  VpcId:
    Value: !Ref Vpc
    Export: {Name: !Sub '${AWS::StackName}-vpc'}
  Azs:
    Value: !Join [',', !GetAZs '']
  OnlyProd:
    Condition: IsProd
    Value: !Ref Prod
"#;
    let mut env = StaticEnvironment::default();
    env.exports.insert("shared-vpc".into(), "vpc-shared".into());
    env.dynamic
        .insert("ssm-secure:/db/pw:2".into(), "s3cret".into());
    env.dynamic.insert("ssm:/plain".into(), "plain".into());
    let b = bind_env(body, &[("Secret", "hunter2")], env).unwrap();
    assert_eq!(logical_ids(&b), ["Vpc", "Subnet"]);
    assert_eq!(b.resources()[1].depends_on, ["Vpc"]);
    assert_eq!(
        b.levels(),
        [vec!["Vpc".to_string()], vec!["Subnet".to_string()]]
    );
    assert!(b.conditions()["Both"]);
    assert_eq!(b.displayed_parameters()["Secret"], "****");
    assert_eq!(b.displayed_parameters()["Env"], "dev");
    assert_eq!(b.imports(), ["shared-vpc"]);
    let p = b.resolve_properties("Subnet", &Fake).unwrap();
    assert_eq!(
        p,
        json!({
            "VpcId": "Vpc-pid",
            "Cidr": "10.0.1.0/24",
            "V6": ["2001:db8::/64", "2001:db8:0:1::/64"],
            "Az": "us-east-1a",
            "Name": "example-dev-Vpc.CidrBlock-${Literal}",
            "Named": "dev-ami-1",
            "Joined": "a,b",
            "Split": ["a", "b"],
            "List": [1, 3],
            "UserData": "aGk=",
            "Imported": "vpc-shared",
            "Pseudo": ["123456789012", "aws", "amazonaws.com", "us-east-1"],
            "Password": "s3cret",
            "Plain": "x-plain-y"
        })
    );
    let outs = b.resolve_outputs(&Fake).unwrap();
    assert_eq!(outs.len(), 2);
    assert_eq!(
        outs[0],
        ResolvedOutput {
            key: "VpcId".into(),
            value: "Vpc-pid".into(),
            description: None,
            export_name: Some("example-vpc".into())
        }
    );
    assert_eq!(outs[1].value, "us-east-1a,us-east-1b,us-east-1c");
    // Lazy: before the VPC exists its dependents cannot be resolved.
    let e = b.resolve_properties("Subnet", &NoResources).unwrap_err();
    assert_eq!(e.code, ErrorCode::Resolve);
    assert!(b.resolve_properties("Prod", &Fake).is_err());
}

#[test]
fn inactive_resources_cannot_be_referenced() {
    let body = "Parameters:\n  On: {Type: String, Default: 'false'}\nConditions:\n  C: !Equals [!Ref On, 'true']\nResources:\n  A: {Type: X::Y::Z, Condition: C}\n  B: {Type: X::Y::Z, Properties: {P: !Ref A}}\n  D: {Type: X::Y::Z, Properties: {P: !If [C, !Ref A, none]}}\n";
    let e = bind(body, &[]).unwrap_err();
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0].message,
        "Template format error: Unresolved resource dependencies [A] in the Resources block of the template"
    );
    assert_eq!(e[0].location.unwrap().line, 7);
    let b = bind(body, &[("On", "true")]).unwrap();
    assert_eq!(b.resources()[2].depends_on, ["A"]);
}

#[test]
fn rules_fail_with_their_description() {
    let body = r#"
Parameters:
  Env: {Type: String}
  Size: {Type: String}
  Subnets: {Type: 'List<AWS::EC2::Subnet::Id>'}
Rules:
  ProdSize:
    RuleCondition: !Equals [!Ref Env, prod]
    Assertions:
      - Assert: !Contains [[large, xlarge], !Ref Size]
        AssertDescription: Prod needs a large size
  SameSubnets:
    Assertions:
      - Assert: !EachMemberIn [!Ref Subnets, [subnet-1, subnet-2]]
        AssertDescription: unknown subnet
      - Assert: !EachMemberEquals [!RefAll 'AWS::EC2::Subnet::Id', subnet-1]
        AssertDescription: all subnets must be subnet-1
Resources:
  A: {Type: X::Y::Z}
"#;
    assert!(
        bind(
            body,
            &[("Env", "dev"), ("Size", "small"), ("Subnets", "subnet-1")]
        )
        .is_ok()
    );
    let e = bind(
        body,
        &[
            ("Env", "prod"),
            ("Size", "small"),
            ("Subnets", "subnet-1,subnet-2"),
        ],
    )
    .unwrap_err();
    let msgs: Vec<&str> = e.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        msgs,
        ["Prod needs a large size", "all subnets must be subnet-1"]
    );
}

#[test]
fn language_extensions() {
    let body = r#"
Transform: AWS::LanguageExtensions
Parameters:
  Names: {Type: CommaDelimitedList, Default: "a-1,b"}
  Retain: {Type: String, Default: 'yes'}
Mappings:
  M: {a-1: {Size: '1'}}
Conditions:
  Keep: !Equals [!Ref Retain, 'yes']
Resources:
  Fn::ForEach::Topics:
    - Name
    - !Ref Names
    - Topic&{Name}:
        Type: AWS::SNS::Topic
        DeletionPolicy: !If [Keep, Retain, Delete]
        Properties:
          TopicName: !Sub 'topic-${Name}'
          Size: !FindInMap [M, !Ref Name, Size, {DefaultValue: '0'}]
          Count: {'Fn::Length': !Ref Names}
          Json: !ToJsonString {k: !Ref Name}
          Fn::ForEach::Tags:
            - T
            - [x, y]
            - Tag${T}: !Ref Name
Outputs:
  Fn::ForEach::Out:
    - Name
    - !Ref Names
    - Arn&{Name}:
        Value: !Ref
          Fn::Sub: 'Topic&{Name}'
"#;
    // `!Ref {Fn::Sub}` is not valid outside LanguageExtensions' ForEach output keys; keep
    // the output simple instead.
    let body = body.replace("!Ref\n          Fn::Sub: 'Topic&{Name}'", "!Sub '${Name}'");
    let b = bind(&body, &[]).unwrap();
    assert_eq!(logical_ids(&b), ["Topica1", "Topicb"]);
    assert_eq!(b.resources()[0].deletion_policy, Policy::Retain);
    let p = b.resolve_properties("Topica1", &Fake).unwrap();
    assert_eq!(
        p,
        json!({"TopicName": "topic-a-1", "Size": "1", "Count": 2, "Json": "{\"k\":\"a-1\"}", "Tagx": "a-1", "Tagy": "a-1"})
    );
    let p = b.resolve_properties("Topicb", &Fake).unwrap();
    assert_eq!(p["Size"], "0");
    let outs = b.resolve_outputs(&Fake).unwrap();
    assert_eq!(
        outs.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(),
        ["Arna1", "Arnb"]
    );
    let b = bind(&body, &[("Retain", "no"), ("Names", "z")]).unwrap();
    assert_eq!(b.resources()[0].logical_id, "Topicz");
    assert_eq!(b.resources()[0].deletion_policy, Policy::Delete);
}

#[test]
fn get_stack_output_and_ssm_parameter_types() {
    let body = "Parameters:\n  Ami: {Type: 'AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>', Default: /ami/latest}\nResources:\n  A:\n    Type: X::Y::Z\n    Properties:\n      Ami: !Ref Ami\n      Topic: {'Fn::GetStackOutput': {StackName: producer, OutputName: TopicArn}}\n";
    let mut env = StaticEnvironment::default();
    env.ssm.insert("/ami/latest".into(), "ami-42".into());
    env.stack_outputs
        .insert(("producer".into(), "TopicArn".into()), "arn:topic".into());
    let b = bind_env(body, &[], env).unwrap();
    assert_eq!(
        b.resolve_properties("A", &Fake).unwrap(),
        json!({"Ami": "ami-42", "Topic": "arn:topic"})
    );
    assert_eq!(b.displayed_parameters()["Ami"], "/ami/latest");
}

#[test]
fn resolution_errors_use_cloudformation_words() {
    let body = "Resources:\n  A:\n    Type: X::Y::Z\n    Properties:\n      I: !ImportValue nope\n";
    let b = bind(body, &[]).unwrap();
    assert_eq!(
        b.resolve_properties("A", &Fake).unwrap_err().message,
        "No export named nope found"
    );
    let body =
        "Resources:\n  A:\n    Type: X::Y::Z\n    Properties:\n      I: !Select [5, [a, b]]\n";
    let b = bind(body, &[]).unwrap();
    assert_eq!(
        b.resolve_properties("A", &Fake).unwrap_err().message,
        "Template error: Fn::Select cannot select nonexistent value at index 5"
    );
}

#[test]
fn plans_can_be_shared_between_threads() {
    // The engine keeps bound templates behind `Arc<dyn TemplatePlan + Send + Sync>`.
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    let b = bind("Resources:\n  A: {Type: X::Y::Z}\n", &[]).unwrap();
    assert_send_sync(&b);
    assert_send_sync(&Template::parse("Resources: {}").unwrap());
    let shared = Arc::new(b);
    let s2 = Arc::clone(&shared);
    let ids = std::thread::spawn(move || s2.resources().len())
        .join()
        .unwrap();
    assert_eq!(ids, 1);
}

/// A lookup that also knows exports at resolution time.
struct WithExports;
impl ResourceLookup for WithExports {
    fn physical_id(&self, id: &str) -> Option<String> {
        Some(format!("{id}-pid"))
    }
    fn attribute(&self, _: &str, _: &str) -> Option<Value> {
        None
    }
    fn import_value(&self, name: &str) -> Option<String> {
        (name == "live").then(|| "from-lookup".to_string())
    }
}

#[test]
fn import_value_reads_the_lookup_first_then_the_environment() {
    let body = "Resources:\n  T:\n    Type: AWS::SNS::Topic\n    Properties:\n      A: !ImportValue live\n      B: !ImportValue bound\n";
    let mut env = StaticEnvironment::default();
    env.exports.insert("live".into(), "from-env".into());
    env.exports.insert("bound".into(), "bound-env".into());
    let b = bind_env(body, &[], env).unwrap();
    let props = b.resolve_properties("T", &WithExports).unwrap();
    assert_eq!(props, json!({"A": "from-lookup", "B": "bound-env"}));
    // A lookup that knows no exports leaves the environment's answer.
    let props = b.resolve_properties("T", &Fake).unwrap();
    assert_eq!(props, json!({"A": "from-env", "B": "bound-env"}));
    let missing =
        "Resources:\n  T:\n    Type: AWS::SNS::Topic\n    Properties: {A: !ImportValue nobody}\n";
    let b = bind(missing, &[]).unwrap();
    let e = b.resolve_properties("T", &WithExports).unwrap_err();
    assert_eq!(e.message, "No export named nobody found");
}
