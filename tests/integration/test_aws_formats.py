"""What the S3, SQS and EC2 modules send and how they read AWS's own answer
formats, with a scripted fake endpoint (aws_fakes.ServiceServer, which also
checks every SigV4 signature) instead of moto: the answers below are shaped
like the samples in the AWS API references (namespaces, nested <item>
lists, encoded keys), which moto does not always reproduce exactly."""
import base64
import json
import os
import urllib.parse

import pytest

from aws_fakes import ServiceServer, s3_error
from moto_server import run

KEY, SECRET = "AKIDFORMATSEXAMPLE", "formats-secret-wJalrXUtnFEMI"

S3_LIST = """<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name><Prefix>photos%2F</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>
  <EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>
  <Contents><Key>photos/a+b%2Bc.jpg</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>
    <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size>
    <StorageClass>STANDARD</StorageClass></Contents>
  <Contents><Key>photos/%C3%A9t%C3%A9.jpg</Key><LastModified>2009-10-12T17:50:31.000Z</LastModified>
    <ETag>&quot;0123456789abcdef0123456789abcdef&quot;</ETag><Size>7</Size>
    <StorageClass>STANDARD_IA</StorageClass></Contents>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
</ListBucketResult>"""

SQS_RECEIVE = """<ReceiveMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">
  <ReceiveMessageResult><Message>
    <MessageId>5fea7756-0ea4-451a-a703-a558b933e274</MessageId>
    <ReceiptHandle>MbZj6wDWli+JvwwJaBV+3dcjk2YW2vA3+STFFljTM8tJJg6HRG6PYSasuWXPJB+Cw=</ReceiptHandle>
    <MD5OfBody>fafb00f5732ab283681e124bf8747ed1</MD5OfBody>
    <Body>This is a test message &amp; &lt;more&gt;</Body>
    <Attribute><Name>SenderId</Name><Value>195004372649</Value></Attribute>
    <Attribute><Name>SentTimestamp</Name><Value>1238099229000</Value></Attribute>
    <Attribute><Name>ApproximateReceiveCount</Name><Value>5</Value></Attribute>
    <Attribute><Name>ApproximateFirstReceiveTimestamp</Name><Value>1250700979248</Value></Attribute>
  </Message></ReceiveMessageResult>
  <ResponseMetadata><RequestId>b6633655-283d-45b4-aee4-4e84e0ae6afa</RequestId></ResponseMetadata>
</ReceiveMessageResponse>"""

SQS_DELETE_BATCH = """<DeleteMessageBatchResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">
  <DeleteMessageBatchResult>
    <DeleteMessageBatchResultEntry><Id>0</Id></DeleteMessageBatchResultEntry>
    <BatchResultErrorEntry><Id>1</Id><Code>ReceiptHandleIsInvalid</Code>
      <Message>The input receipt handle is invalid.</Message><SenderFault>true</SenderFault>
    </BatchResultErrorEntry>
  </DeleteMessageBatchResult>
  <ResponseMetadata><RequestId>d6f86b7a-74d1-4439-b43f-196a1e29cd85</RequestId></ResponseMetadata>
</DeleteMessageBatchResponse>"""

EC2_INSTANCE = """<item>
  <instanceId>{id}</instanceId><imageId>ami-bff32ccc</imageId>
  <instanceState><code>16</code><name>running</name></instanceState>
  <privateDnsName>ip-192-168-1-88.eu-west-1.compute.internal</privateDnsName>
  <keyName>my_keypair</keyName><instanceType>t2.micro</instanceType>
  <launchTime>2018-05-08T16:46:19.000Z</launchTime>
  <placement><availabilityZone>eu-west-1c</availabilityZone><tenancy>default</tenancy></placement>
  <subnetId>subnet-56f5f633</subnetId><vpcId>vpc-11112222</vpcId>
  <privateIpAddress>192.168.1.88</privateIpAddress><ipAddress>54.194.252.215</ipAddress>
  <groupSet><item><groupId>sg-e4076980</groupId><groupName>SecurityGroup1</groupName></item></groupSet>
  <iamInstanceProfile><arn>arn:aws:iam::123456789012:instance-profile/worker</arn></iamInstanceProfile>
  <tagSet><item><key>Name</key><value>app-tier-instance-1</value></item>
          <item><key>fleet</key><value>cloudrec</value></item></tagSet>
  <networkInterfaceSet><item><networkInterfaceId>eni-1</networkInterfaceId>
    <groupSet><item><groupId>sg-nested-not-ours</groupId></item></groupSet>
    <privateIpAddress>10.9.9.9</privateIpAddress></item></networkInterfaceSet>
</item>"""

EC2_DESCRIBE = """<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>8f7724cf-496f-496e-8fe3-example</requestId>
  <reservationSet><item><reservationId>{rid}</reservationId><ownerId>123456789012</ownerId>
    <groupSet/><instancesSet>{instance}</instancesSet></item></reservationSet>
  {next}
</DescribeInstancesResponse>"""


@pytest.fixture
def fake():
    servers = []

    def start(*answers):
        srv = ServiceServer(script=list(answers))
        srv.static_secrets[KEY] = SECRET
        servers.append(srv)
        return srv
    yield start
    for s in servers:
        s.close()


def env_for(srv):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET, AWS_REGION="eu-west-1",
               AWS_ENDPOINT_URL=srv.url, AWS_EC2_METADATA_DISABLED="true",
               AWS_SHARED_CREDENTIALS_FILE="/nonexistent", AWS_CONFIG_FILE="/nonexistent")
    return env


def cli_json(srv, *args):
    proc = run([os.environ["CLOUDREC_CLI"], *args, "--json"], env_for(srv))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def form(request) -> dict:
    return dict(urllib.parse.parse_qsl(request["body"].decode(), keep_blank_values=True))


def test_s3_list_decodes_url_encoded_keys(fake):
    srv = fake((200, S3_LIST, {}))
    doc = cli_json(srv, "s3", "ls", "s3://bucket/photos/", "--max-keys", "2", "--one-page")
    objs = doc["objects"]
    assert [o["key"] for o in objs] == ["photos/a b+c.jpg", "photos/\u00e9t\u00e9.jpg"]
    assert objs[0]["etag"] == "fba9dede5f27731c9771645a39863328" and objs[0]["size"] == 434234
    assert objs[0]["last_modified"] == "2009-10-12T17:50:30Z"
    assert objs[1]["storage_class"] == "STANDARD_IA"
    assert doc["next_token"] == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="
    req = srv.requests[0]
    assert req["method"] == "GET" and req["path"] == "/bucket" and req["signature_ok"]
    q = dict(urllib.parse.parse_qsl(req["query"]))
    assert q == {"list-type": "2", "encoding-type": "url", "prefix": "photos/", "max-keys": "2"}


def test_s3_put_and_create_bucket_requests(fake, tmp_path):
    srv = fake((200, "", {"ETag": '"abc"'}), (409, s3_error("BucketAlreadyOwnedByYou"), {}))
    src = tmp_path / "a b+c.png"
    src.write_bytes(b"\x89PNG data")
    doc = cli_json(srv, "s3", "put", src, "s3://bucket/dir/")
    assert doc["key"] == "dir/a b+c.png" and doc["etag"] == "abc"
    put = srv.requests[0]
    assert put["path"] == "/bucket/dir/a%20b%2Bc.png" and put["body"] == b"\x89PNG data"
    assert put["headers"]["Content-Type"] == "image/png" and put["signature_ok"]
    assert cli_json(srv, "s3", "mb", "s3://bucket") == {"bucket": "bucket", "region": "eu-west-1"}
    mb = srv.requests[1]
    assert b"<LocationConstraint>eu-west-1</LocationConstraint>" in mb["body"]


def test_sqs_receive_request_and_answer(fake):
    srv = fake((200, SQS_RECEIVE, {}))
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/requests"
    doc = cli_json(srv, "sqs", "recv", url, "--max", "10", "--wait", "20", "--visibility", "60")
    (m,) = doc["messages"]
    assert m["body"] == "This is a test message & <more>" and m["receive_count"] == 5
    assert m["sent_ms"] == 1238099229000 and m["first_receive_ms"] == 1250700979248
    assert m["receipt_handle"].startswith("MbZj6wDWli+Jvww") and m["attributes"]["SenderId"]
    sent = form(srv.requests[0])
    assert sent == {"Action": "ReceiveMessage", "Version": "2012-11-05", "QueueUrl": url,
                    "MaxNumberOfMessages": "10", "AttributeName.1": "All",
                    "WaitTimeSeconds": "20", "VisibilityTimeout": "60"}
    assert srv.requests[0]["path"] == "/" and srv.requests[0]["signature_ok"]


def test_sqs_send_form_and_partial_batch(fake):
    srv = fake((200, "<SendMessageResponse><SendMessageResult><MessageId>m-1</MessageId>"
                     "</SendMessageResult></SendMessageResponse>", {}),
               (200, SQS_DELETE_BATCH, {}))
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/q"
    assert cli_json(srv, "sqs", "send", url, "a b&c=d+e")["messages"][0]["message_id"] == "m-1"
    body = srv.requests[0]["body"].decode()
    assert "MessageBody=a+b%26c%3Dd%2Be" in body, "spaces as '+', the rest percent-encoded"
    assert form(srv.requests[0])["MessageBody"] == "a b&c=d+e" and srv.requests[0]["signature_ok"]

    proc = run([os.environ["CLOUDREC_CLI"], "sqs", "del", url, "good", "bad", "--json"],
               env_for(srv))
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert [d["ok"] for d in doc["deleted"]] == [True, False] and doc["failed"] == 1
    assert doc["deleted"][1]["code"] == "ReceiptHandleIsInvalid"
    sent = form(srv.requests[1])
    assert sent["DeleteMessageBatchRequestEntry.2.Id"] == "1"
    assert sent["DeleteMessageBatchRequestEntry.2.ReceiptHandle"] == "bad"


def test_ec2_describe_pages_and_nested_items(fake):
    page1 = EC2_DESCRIBE.format(rid="r-1", instance=EC2_INSTANCE.format(id="i-1"),
                                next="<nextToken>tok/en+1==</nextToken>")
    page2 = EC2_DESCRIBE.format(rid="r-2", instance=EC2_INSTANCE.format(id="i-2"), next="")
    srv = fake((200, page1, {}), (200, page2, {}))
    doc = cli_json(srv, "ec2", "ls", "--tag", "fleet=cloudrec", "--state", "pending,running",
                   "--max-results", "5")
    first, second = doc["instances"]
    assert (first["instance_id"], second["instance_id"]) == ("i-1", "i-2")
    assert first["tags"] == {"Name": "app-tier-instance-1", "fleet": "cloudrec"}
    assert first["security_group_ids"] == ["sg-e4076980"], "nested groupSets are not ours"
    assert first["private_ip"] == "192.168.1.88" and first["state_code"] == 16
    assert first["launch_time"] == "2018-05-08T16:46:19Z" and first["reservation_id"] == "r-1"
    assert first["iam_instance_profile_arn"].endswith("/worker")
    one, two = form(srv.requests[0]), form(srv.requests[1])
    assert one["Filter.1.Name"] == "tag:fleet" and one["Filter.1.Value.1"] == "cloudrec"
    assert one["Filter.2.Name"] == "instance-state-name" and one["Filter.2.Value.2"] == "running"
    assert one["MaxResults"] == "5" and "NextToken" not in one
    assert two["NextToken"] == "tok/en+1==" and one["Version"] == "2016-11-15"


def test_ec2_run_form(fake, tmp_path):
    answer = ('<RunInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
              "<reservationId>r-9</reservationId><instancesSet>"
              + EC2_INSTANCE.format(id="i-9") + "</instancesSet></RunInstancesResponse>")
    srv = fake((200, answer, {}))
    script = b"#!/bin/sh\necho 'hello world' > /tmp/x\n"
    (tmp_path / "ud").write_bytes(script)
    doc = cli_json(srv, "ec2", "run", "--image", "ami-1", "--count", "2", "--tag", "Name=w 1",
                   "--user-data", tmp_path / "ud", "--key", "k", "--security-group-id", "sg-1",
                   "--subnet", "subnet-1", "--instance-profile", "arn:aws:iam::1:instance-profile/p",
                   "--client-token", "tok", "--shutdown-terminates")
    assert doc["instances"][0]["reservation_id"] == "r-9"
    sent = form(srv.requests[0])
    assert base64.b64decode(sent["UserData"]) == script
    assert sent["MinCount"] == sent["MaxCount"] == "2" and sent["InstanceType"] == "t2.micro"
    assert sent["TagSpecification.1.ResourceType"] == "instance"
    assert sent["TagSpecification.1.Tag.1.Key"] == "Name"
    assert sent["TagSpecification.1.Tag.1.Value"] == "w 1"
    assert sent["SecurityGroupId.1"] == "sg-1" and sent["SubnetId"] == "subnet-1"
    assert sent["IamInstanceProfile.Arn"].endswith("/p") and sent["KeyName"] == "k"
    assert sent["ClientToken"] == "tok"
    assert sent["InstanceInitiatedShutdownBehavior"] == "terminate"
    assert srv.requests[0]["signature_ok"]
