"""The demo seed: the published notices a customer may be asked to agree to.

Notices are identified by (notice_key, version); running the seed again adds
nothing. A changed text must become a new version, never an edit of a
published one, because consent records pin the hash of the text they accepted.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session

from anxin_consent.notices import repository, service
from anxin_consent.notices.schemas import ConsentNoticeCreate

PUBLISHED_AT = datetime(2026, 11, 1, tzinfo=UTC)

VOICEPRINT_TEXT = """\
《声纹信息采集与使用告知及单独同意书》

尊敬的客户：
安信集团客户服务中心（以下简称"我们"）拟在您来电时采集和使用您的声纹信息。声纹属于生物识别信息，\
是《中华人民共和国个人信息保护法》规定的敏感个人信息，一旦泄露或者被非法使用，可能导致您的人格尊严\
受到侵害或者人身、财产安全受到危害。根据该法第二十九条，我们仅在取得您的单独同意后采集。请您仔细阅读：

一、处理者：安信集团客户服务中心，代表安信人寿、安信财险、安信银行提供统一客户服务。
二、处理目的：核验来电者是否为您本人，防范他人冒用您的身份进行查询、变更或交易（声纹反欺诈）。
三、处理方式：在您同意后的通话中提取声纹特征并生成声纹模型；此后来电时，将通话声音与该模型比对。\
我们仅保存加密的声纹模型，不将其用于上述目的以外的任何用途。
四、个人信息种类：声纹（生物识别信息）。
五、保存期限：自最近一次使用起三年，或至您撤回同意时止，以先到者为准；期满后删除。
六、存储地点：数据存储于安信集团自有的境内服务器，不向境外提供，不向集团以外的任何第三方提供。
七、您的权利：您可以拒绝本同意，拒绝不影响您办理业务，我们将改用知识问答或短信验证码等方式核验身份。\
您可以随时通过客服热线或坐席撤回同意，撤回后我们将停止使用并删除您的声纹模型；撤回不影响撤回前\
基于同意已进行的处理活动的效力。您还享有查阅、复制、更正、删除个人信息等权利。
八、联系方式：个人信息保护负责人，电子邮箱 privacy@anxin.example。

如您同意，请在坐席提示后明确回答"同意"。
"""

CROSS_SELL_TEXT = """\
《个人信息对外提供单独同意书（安信人寿向安信银行提供）》

尊敬的客户：
安信人寿保险股份有限公司（以下简称"安信人寿"）与安信银行股份有限公司（以下简称"安信银行"）同属\
安信集团，但为相互独立的法人。根据《中华人民共和国个人信息保护法》第二十三条，安信人寿向安信银行提供\
您的个人信息，须向您告知以下事项并取得您的单独同意：

一、接收方名称：安信银行股份有限公司；联系方式：安信银行个人信息保护负责人，电子邮箱 \
privacy-bank@anxin.example。
二、处理目的：安信银行向您介绍和推荐与您的保障需求相匹配的存款、理财及信贷产品（交叉销售）。
三、处理方式：安信人寿通过集团内部受控接口，以最小必要原则向安信银行提供下列信息，\
传输全程加密并留存审计记录。
四、个人信息种类：姓名、手机号码、联系地址、保单号码，以及客户分层标签（如客户价值等级）。
五、保存期限：安信银行自收到之日起保存两年，或至您撤回同意时止，以先到者为准；期满后删除。
六、安信银行应当在上述处理目的、处理方式和个人信息种类范围内处理您的个人信息；\
变更原先的处理目的或者处理方式的，应当重新取得您的同意。
七、您的权利：您可以拒绝本同意，拒绝不影响您与安信人寿之间保险合同的订立和履行，也不影响您享受\
安信人寿的任何服务。您可以随时通过客服热线或坐席撤回同意，撤回后安信人寿将停止向安信银行提供，\
安信银行将停止使用并删除已接收的信息；撤回不影响撤回前基于同意已进行的处理活动的效力。

如您同意安信人寿向安信银行提供上述信息，请明确表示"同意"。
"""

MARKETING_TEXT = """\
《营销联系偏好告知及同意书》

尊敬的客户：
安信人寿、安信财险、安信银行（以下合称"我们"）希望在您同意的范围内，通过您选择的渠道向您介绍\
产品与服务。请您仔细阅读以下内容：

一、处理目的：按照您选择的渠道（电话、短信、电子邮件）和频次，向您发送产品、服务及优惠活动信息。
二、处理方式：各公司仅使用其在与您的业务往来中已合法取得的信息联系您，本同意不构成各公司之间\
相互提供您的个人信息；如需相互提供，我们将另行告知并取得您的单独同意。
三、个人信息种类：姓名、手机号码、电子邮箱、客户分层标签。
四、个性化推荐：我们可能根据客户分层标签向您推送信息。根据《中华人民共和国个人信息保护法》第二十四条，\
我们同时提供不针对您个人特征的选项，您可以随时选择不接收个性化推荐。
五、保存期限：营销联系偏好保存一年，到期前将请您重新确认；您撤回同意后立即停止营销联系。
六、您的权利：您可以拒绝本同意，拒绝不影响您已购买的产品和服务。您可以随时通过客服热线、坐席或\
短信中的退订方式撤回同意或调整联系渠道与频次。
七、联系方式：个人信息保护负责人，电子邮箱 privacy@anxin.example。

如您同意接收营销信息，请告知坐席您希望的联系渠道。
"""

DEMO_NOTICES: tuple[ConsentNoticeCreate, ...] = (
    ConsentNoticeCreate(
        notice_key="biometric-voiceprint",
        version=1,
        purpose="采集并使用声纹，用于来电身份核验与声纹反欺诈（敏感个人信息，单独同意）",
        purpose_code="identity_verification",
        separate_consent=True,
        categories=["spi.biometric.voiceprint"],
        recipients=["group"],
        retention_days=1095,
        text_zh=VOICEPRINT_TEXT,
    ),
    ConsentNoticeCreate(
        notice_key="life-to-bank-cross-sell",
        version=1,
        purpose="安信人寿向安信银行提供联系方式和保险信息，用于交叉销售（对外提供，单独同意）",
        purpose_code="cross_sell",
        separate_consent=True,
        categories=[
            "pi.identity.name",
            "pi.contact.phone",
            "pi.contact.address",
            "pi.insurance.policy_number",
            "pi.profile.segment",
        ],
        recipients=["bank"],
        retention_days=730,
        text_zh=CROSS_SELL_TEXT,
    ),
    ConsentNoticeCreate(
        notice_key="marketing-contact-preferences",
        version=1,
        purpose="按客户选择的渠道和频次发送营销信息",
        purpose_code="marketing",
        categories=[
            "pi.identity.name",
            "pi.contact.phone",
            "pi.contact.email",
            "pi.profile.segment",
        ],
        recipients=["life", "pc", "bank"],
        retention_days=365,
        text_zh=MARKETING_TEXT,
    ),
)


def seed_notices(session: Session, notices: tuple[ConsentNoticeCreate, ...] = DEMO_NOTICES) -> int:
    """Publish the demo notices that are missing; return how many were added."""
    added = 0
    for create in notices:
        if repository.get_notice(session, create.notice_key, create.version) is not None:
            continue
        repository.add_notice(session, service.published_notice(create, PUBLISHED_AT))
        added += 1
    return added
