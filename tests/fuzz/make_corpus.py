#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

Every seed is made here (images drawn with Pillow, documents written out), so
the corpus can be regenerated and nothing in it comes from another project.
Needs Pillow (python3 -m pip install pillow) only when run; the seeds are
committed. Run from anywhere: python3 tests/fuzz/make_corpus.py
"""
import io
import json
import os
import struct
import zlib

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gradient(mode, w, h):
    img = Image.new("RGB", (w, h))
    img.putdata([((x * 255) // max(w - 1, 1), (y * 255) // max(h - 1, 1), (x ^ y) & 255)
                 for y in range(h) for x in range(w)])
    return img.convert(mode) if mode != "RGB" else img


def exif_orientation(value):
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


def encode(img, fmt, **kw):
    out = io.BytesIO()
    img.save(out, fmt, **kw)
    return out.getvalue()


def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def image_seeds():
    seeds = {
        "jpeg-baseline-8x8.jpg": encode(gradient("RGB", 8, 8), "JPEG", quality=80),
        "jpeg-progressive-16x12.jpg": encode(gradient("RGB", 16, 12), "JPEG", progressive=True),
        "jpeg-gray-8x8.jpg": encode(gradient("L", 8, 8), "JPEG"),
        "jpeg-cmyk-8x8.jpg": encode(gradient("CMYK", 8, 8), "JPEG"),
        "jpeg-420-17x9.jpg": encode(gradient("RGB", 17, 9), "JPEG", subsampling=2),
        "jpeg-exif-rot90-8x4.jpg": encode(gradient("RGB", 8, 4), "JPEG", exif=exif_orientation(6)),
        "png-rgb-8x8.png": encode(gradient("RGB", 8, 8), "PNG"),
        "png-rgba-5x3.png": encode(gradient("RGBA", 5, 3), "PNG"),
        "png-gray-9x7.png": encode(gradient("L", 9, 7), "PNG"),
        "png-1bit-10x3.png": encode(gradient("1", 10, 3), "PNG"),
        "png-palette-6x6.png": encode(gradient("P", 6, 6), "PNG"),
        "png-16bit-4x4.png": encode(gradient("I;16", 4, 4), "PNG"),
        "png-exif-rot270-6x2.png": encode(gradient("RGB", 6, 2), "PNG", exif=exif_orientation(8)),
    }
    # Hand-made PNG: Adam7 interlaced 1x1 RGB (Pillow writes no interlaced PNG);
    # one pixel lives in the first pass alone: filter byte 0, then R, G, B.
    raw = bytes((0, 200, 100, 50))
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 1)
    seeds["png-interlaced-1x1.png"] = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) +
                                       png_chunk(b"IDAT", zlib.compress(raw)) +
                                       png_chunk(b"IEND", b""))
    seeds["jpeg-truncated.jpg"] = seeds["jpeg-baseline-8x8.jpg"][:200]
    seeds["png-truncated.png"] = seeds["png-rgb-8x8.png"][:60]
    for name, data in seeds.items():
        write("image", name, data)
    return seeds


def multipart(boundary, parts):
    body = b""
    for field, filename, ctype, data in parts:
        disp = 'form-data; name="%s"' % field
        if filename is not None:
            disp += '; filename="%s"' % filename
        body += b"--" + boundary + b"\r\nContent-Disposition: " + disp.encode() + b"\r\n"
        if ctype:
            body += b"Content-Type: " + ctype.encode() + b"\r\n"
        body += b"\r\n" + data + b"\r\n"
    return body + b"--" + boundary + b"--\r\n"


def upload_seeds(images):
    jpg = images["jpeg-baseline-8x8.jpg"]
    png = images["png-palette-6x6.png"]
    b = b"----cloudrecBoundary7MA4YWxk"
    cases = {
        "mp-inputFile-jpeg": multipart(b, [("inputFile", "test_0.JPEG", "image/jpeg", jpg)]),
        "mp-myfile-png-utf8-name": multipart(b, [("myfile", "hund-été.png", "image/png", png)]),
        "mp-file-spaces": multipart(b, [("file", "Screenshot 2026-12-03 at 10.00.00.jpg",
                                         "image/jpeg", jpg)]),
        "mp-two-parts": multipart(b, [("note", None, None, b"hello"),
                                      ("upload", "a.jpg", "image/jpeg", jpg),
                                      ("inputFile", "b.png", "image/png", png)]),
        "mp-no-filename": multipart(b, [("inputFile", None, None, jpg)]),
        "mp-not-an-image": multipart(b, [("inputFile", "x.jpg", "image/jpeg", b"GIF89a....")]),
        "mp-bad-name": multipart(b, [("inputFile", "../etc/passwd", "image/jpeg", jpg)]),
        "mp-empty": multipart(b, []),
    }
    for name, body in cases.items():
        write("upload", name, b + b"\n" + body)
    raw = {
        "raw-healthz": "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        "raw-page": "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "raw-metrics-status": "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n",
        "raw-result": "GET /v1/results/0b6f1c2e-8a43-4d7e-9c1a-5e2f3b4d6a70 HTTP/1.1\r\n"
                      "Host: x\r\n\r\n",
        "raw-result-bad-id": "GET /v1/results/IMG_0001 HTTP/1.1\r\nHost: x\r\n\r\n",
        "raw-two-lengths": "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                           "Content-Length: 5\r\nContent-Type: multipart/form-data; boundary=q"
                           "\r\n\r\nabcd",
        "raw-negative-length": "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        "raw-chunked": "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                       "Content-Type: multipart/form-data; boundary=q\r\n\r\n"
                       "5\r\n--q\r\n\r\n0\r\n\r\n",
        "raw-urlencoded": "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n"
                          "Content-Type: application/x-www-form-urlencoded\r\n\r\na=b&c=d",
        "raw-http10": "GET /healthz HTTP/1.0\r\n\r\n",
    }
    for name, text in raw.items():
        write("upload", name, "R" + text)
    # A whole multipart request written out raw, so mutations reach its headers.
    body = multipart(b, [("inputFile", "t.jpg", "image/jpeg", jpg)])
    write("upload", "raw-multipart-upload",
          b"RPOST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=" +
          b + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def sigv4_seed(flags, service, time_s, expires, method, path, query, headers, body=b""):
    head = struct.pack("<BBIH", flags, service, time_s, expires)
    lines = [method, path, query] + ["%s:%s" % h for h in headers]
    return head + ("\n".join(lines) + "\n\n").encode() + body


def sigv4_seeds():
    t = 1440938160  # 2015-08-30T12:36:00Z
    cases = {
        "get-vanilla": sigv4_seed(0, 4, t, 0, "GET", "/", "", [("Host", "example.amazonaws.com")]),
        "get-query-order": sigv4_seed(0, 1, t, 0, "GET", "/", "Param2=value2&Param1=value1&b=&a",
                                      [("Host", "sqs.us-east-1.amazonaws.com")]),
        "get-path-dots": sigv4_seed(2, 2, t, 0, "GET", "/./a/../b//c/%2e%2E/d%20e", "",
                                    [("Host", "ec2.amazonaws.com")]),
        "s3-put-object": sigv4_seed(0, 0, t, 0, "PUT", "/bucket/my%20key$+.jpg", "x-id=PutObject",
                                    [("Host", "s3.amazonaws.com"), ("Content-Type", "image/jpeg"),
                                     ("X-Amz-Meta-Name", "  hund-\u00e9t\u00e9   .jpg  ")],
                                    b"\xff\xd8\xff\xe0 jpeg bytes"),
        "s3-presign": sigv4_seed(1, 0, t, 225, "GET", "/bucket/key", "response-content-type=a%2Fb",
                                 [("Host", "bucket.s3.amazonaws.com")]),
        "sqs-post-token": sigv4_seed(0x40, 1, t, 0, "POST", "/", "",
                                     [("Host", "sqs.us-east-1.amazonaws.com"),
                                      ("Content-Type", "application/x-www-form-urlencoded"),
                                      ("My-Header1", "value1\n  folded")],
                                     b"Action=ReceiveMessage&Version=2012-11-05"),
        "omit-token-unsigned": sigv4_seed(0x40 | 0x20 | 0x80 | 0x08, 0, t, 0, "GET", "/k", "",
                                          [("host", "s3.amazonaws.com"),
                                           ("X-Amz-Date", "ignored"),
                                           ("Authorization", "ignored"),
                                           ("x-amz-content-sha256", "ignored")]),
        "duplicate-headers": sigv4_seed(0, 3, t, 0, "GET", "/", "",
                                        [("Host", "example.amazonaws.com"), ("My-Header1", "b"),
                                         ("my-header1", "a"), ("MY-HEADER1", " c  d ")]),
        "bad-expires": sigv4_seed(1, 1, t, 0xffff, "GET", "/", "", [("Host", "h")]),
        "year-10000": sigv4_seed(0, 1, 0xffffffff, 0, "GET", "/", "", [("Host", "h")]),
    }
    for name, data in cases.items():
        write("sigv4", name, data)


def xml_seeds():
    docs = {
        "s3-list.xml": """<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix>
<KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>
<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
<Contents><Key>test_0.JPEG</Key><LastModified>2026-12-03T10:00:00.000Z</LastModified>
<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>12345</Size>
<StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>a%20b%2Fc</Key><Size>-1</Size></Contents><EncodingType>url</EncodingType>
</ListBucketResult>""",
        "sqs-receive.xml": """<ReceiveMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">
<ReceiveMessageResult><Message><MessageId>5fea7756-0ea4-451a-a703-a558b933e274</MessageId>
<ReceiptHandle>MbZj6wDWli+JvwwJaBV+3dcjk2YW2vA3+STFFljTM8tJJg6HRG6PYSasuWXPJB+Cw</ReceiptHandle>
<MD5OfBody>fafb00f5732ab283681e124bf8747ed1</MD5OfBody><Body>{"v":1,"id":"x"}</Body>
<Attribute><Name>SentTimestamp</Name><Value>1238099229000</Value></Attribute>
<Attribute><Name>ApproximateReceiveCount</Name><Value>5</Value></Attribute>
<Attribute><Name>ApproximateFirstReceiveTimestamp</Name><Value>1250700979248.5</Value></Attribute>
</Message><Message><ReceiptHandle>r2</ReceiptHandle><Body>&lt;b&gt;&#233;</Body></Message>
</ReceiveMessageResult><ResponseMetadata><RequestId>b6633655-283d-45b4-aee4-4e84e0ae6afa</RequestId>
</ResponseMetadata></ReceiveMessageResponse>""",
        "sqs-send-batch.xml": """<SendMessageBatchResponse><SendMessageBatchResult>
<SendMessageBatchResultEntry><Id>0</Id><MessageId>m-0</MessageId>
<MD5OfMessageBody>0e024d309850c78cba5eabbeff7cae71</MD5OfMessageBody></SendMessageBatchResultEntry>
<BatchResultErrorEntry><Id>1</Id><Code>InvalidParameterValue</Code>
<Message>too long</Message><SenderFault>true</SenderFault></BatchResultErrorEntry>
</SendMessageBatchResult></SendMessageBatchResponse>""",
        "sqs-send-batch-3.xml": """<SendMessageBatchResponse><SendMessageBatchResult>
<SendMessageBatchResultEntry><Id>0</Id><MessageId>m-0</MessageId></SendMessageBatchResultEntry>
<SendMessageBatchResultEntry><Id>1</Id><MessageId>m-1</MessageId></SendMessageBatchResultEntry>
<BatchResultErrorEntry><Id>2</Id><Code>Throttling</Code><Message>slow down</Message>
<SenderFault>false</SenderFault></BatchResultErrorEntry>
<BatchResultErrorEntry><Id>3</Id><Code>InvalidParameterValue</Code><Message>bad</Message>
<SenderFault>true</SenderFault></BatchResultErrorEntry>
</SendMessageBatchResult></SendMessageBatchResponse>""",
        "sqs-delete-batch.xml": """<DeleteMessageBatchResponse><DeleteMessageBatchResult>
<DeleteMessageBatchResultEntry><Id>0</Id></DeleteMessageBatchResultEntry>
<DeleteMessageBatchResultEntry><Id>2</Id></DeleteMessageBatchResultEntry>
</DeleteMessageBatchResult></DeleteMessageBatchResponse>""",
        "sqs-attributes.xml": """<GetQueueAttributesResponse><GetQueueAttributesResult>
<Attribute><Name>QueueArn</Name><Value>arn:aws:sqs:us-east-1:123456789012:requests</Value></Attribute>
<Attribute><Name>ApproximateNumberOfMessages</Name><Value>7</Value></Attribute>
<Attribute><Name>VisibilityTimeout</Name><Value>30</Value></Attribute>
<Attribute><Name>RedrivePolicy</Name><Value>{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:dead","maxReceiveCount":"5"}</Value></Attribute>
</GetQueueAttributesResult></GetQueueAttributesResponse>""",
        "ec2-describe.xml": """<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
<reservationSet><item><reservationId>r-1234567890abcdef0</reservationId><instancesSet><item>
<instanceId>i-1234567890abcdef0</instanceId><imageId>ami-0abcdef1234567890</imageId>
<instanceState><code>16</code><name>running</name></instanceState>
<privateDnsName>ip-10-0-0-157.ec2.internal</privateDnsName><keyName>my-key</keyName>
<instanceType>t2.micro</instanceType><launchTime>2026-12-03T10:00:00.000Z</launchTime>
<placement><availabilityZone>us-east-1a</availabilityZone></placement>
<privateIpAddress>10.0.0.157</privateIpAddress><ipAddress>54.1.2.3</ipAddress>
<groupSet><item><groupId>sg-1</groupId></item></groupSet>
<tagSet><item><key>cloudrec</key><value>worker</value></item><item><key>Name</key></item></tagSet>
<iamInstanceProfile><arn>arn:aws:iam::123456789012:instance-profile/w</arn></iamInstanceProfile>
</item></instancesSet></item></reservationSet><nextToken>abc</nextToken></DescribeInstancesResponse>""",
        "ec2-run.xml": """<RunInstancesResponse><reservationId>r-1</reservationId><instancesSet>
<item><instanceId>i-1</instanceId><instanceState><code>0</code><name>pending</name></instanceState></item>
<item><instanceId>i-2</instanceId></item></instancesSet></RunInstancesResponse>""",
        "ec2-terminate.xml": """<TerminateInstancesResponse><instancesSet><item><instanceId>i-1</instanceId>
<currentState><code>32</code><name>shutting-down</name></currentState>
<previousState><code>16</code><name>running</name></previousState></item></instancesSet>
</TerminateInstancesResponse>""",
        "s3-error.xml": """<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The resource you requested does not exist</Message>
<Resource>/mybucket/myfoto.jpg</Resource><RequestId>4442587FB7D0A2F9</RequestId></Error>""",
        "sqs-error.xml": """<ErrorResponse><Error><Type>Sender</Type>
<Code>AWS.SimpleQueueService.NonExistentQueue</Code><Message>no queue</Message></Error>
<RequestId>42d59b56-7407-4c4a-be0f-4c88daeea257</RequestId></ErrorResponse>""",
        "ec2-error.xml": """<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code>
<Message>The instance ID 'i-1' does not exist</Message></Error></Errors>
<RequestID>ea966190-f9aa-478e-9ede-example</RequestID></Response>""",
        "dtd-refused.xml": """<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>""",
        "namespaced-cdata.xml": """<s3:Error xmlns:s3="urn:x"><s3:Code><![CDATA[Slow<Down]]></s3:Code><!-- c --><?pi x?></s3:Error>""",
    }
    for name, text in docs.items():
        write("xml", name, text)


def message_seeds():
    uid = "0b6f1c2e-8a43-4d7e-9c1a-5e2f3b4d6a70"
    msgs = {
        "request.json": {"v": 1, "id": uid, "name": "test_0.JPEG", "input": "file:///data/input",
                         "key": uid, "reply": "sqlite:///data/queue.db?name=replies",
                         "enqueued_ms": 1700000000000},
        "response-ok.json": {"v": 1, "id": uid, "name": "hund-\u00e9t\u00e9.jpg", "label": "bathtub",
                             "top": [{"label": "bathtub", "p": 0.61}, {"label": "tub", "p": 1e-7}],
                             "worker": "w-1", "ms": 42},
        "response-error.json": {"v": 1, "id": uid, "name": "x.png",
                                "error": "not a JPEG or PNG image"},
        "future-version.json": {"v": 2, "id": uid},
        "unknown-and-null.json": {"v": 1, "id": uid, "name": None, "label": "a", "extra": [1, {}],
                                  "worker": None, "ms": None},
    }
    for name, m in msgs.items():
        write("message", name, json.dumps(m, ensure_ascii=False))
    write("message", "escapes.json",
          '{"v":1,"id":"%s","label":"a\\u00e9\\ud83d\\ude00\\n\\"","top":[],"ms":0}' % uid)
    write("message", "duplicate-key.json", '{"v":1,"v":1,"id":"%s","label":"x"}' % uid)
    write("message", "deep.json", "[" * 40 + "]" * 40)


def model_seeds():
    """Small cfgs of our own (every layer kind the engine reads) with weights
    of exactly the right size, and broken variants: cfg, NUL, weights."""
    import struct
    small = ("[net]\nwidth=8\nheight=8\nchannels=3\n\n"
             "[convolutional]\nfilters=4\nsize=3\nstride=1\npad=1\nactivation=leaky\n\n"
             "[maxpool]\nsize=2\nstride=2\n\n"
             "[convolutional]\nbatch_normalize=1\nfilters=5\nsize=1\nstride=1\npad=1\n"
             "activation=linear\n\n[avgpool]\n\n[softmax]\ngroups=1\n")
    floats = (4 + 4 * 3 * 3 * 3) + (5 * 4 + 5 * 4)  # conv: biases + weights; BN conv
    header = struct.pack("<iiiq", 0, 2, 0, 0)
    weights = b"".join(struct.pack("<f", ((i * 7) % 13 - 6) / 10) for i in range(floats))
    write("model", "small.bin", small.encode() + b"\0" + header + weights)
    write("model", "small-old-header.bin",
          small.encode() + b"\0" + struct.pack("<iiii", 0, 1, 0, 0) + weights)
    write("model", "small-truncated.bin", small.encode() + b"\0" + header + weights[:-4])
    write("model", "small-oversized.bin", small.encode() + b"\0" + header + weights + b"\0" * 4)
    write("model", "cfg-only.cfg", small)
    routes = ("[net]\nwidth=6\nheight=6\nchannels=1\n\n"
              "[convolutional]\nfilters=2\nsize=3\nstride=1\npad=1\nactivation=relu\n\n"
              "[route]\nlayers=-1\n\n[shortcut]\nfrom=-2\nactivation=linear\n\n"
              "[dropout]\nprobability=.5\n\n[connected]\noutput=3\nactivation=linear\n\n"
              "[softmax]\n")
    write("model", "route-shortcut-connected.cfg", routes)
    write("model", "unknown-layer.cfg", "[net]\nwidth=4\nheight=4\nchannels=3\n\n[lstm]\n")
    write("model", "huge-filters.cfg", "[net]\nwidth=99999\nheight=99999\nchannels=3\n\n"
          "[convolutional]\nfilters=2147483647\nsize=99\nstride=1\npad=1\n")
    write("model", "no-net.cfg", "[convolutional]\nfilters=1\n")


if __name__ == "__main__":
    images = image_seeds()
    upload_seeds(images)
    sigv4_seeds()
    xml_seeds()
    message_seeds()
    model_seeds()
