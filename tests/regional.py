"""A small corpus of short news items in the region's languages, for the tests that rank or
render several scripts."""

from __future__ import annotations

# Short news items, each in one language, a few on the same topics as the answers in English
# and Russian (the query's own language and the region's lingua franca).
ARTICLES = {
    "hy-yerevan": "ՀԱՊԿ գագաթնաժողովը Երևանում\n\n"
    "ՀԱՊԿ անդամ պետությունների ղեկավարների գագաթնաժողովը տեղի ունեցավ Երևանում 2022 "
    "թվականի նոյեմբերի 23-ին։ Հանդիպումը վարում էր Հայաստանի վարչապետ Նիկոլ Փաշինյանը, որը "
    "հրաժարվեց ստորագրել համատեղ հռչակագիրը։",
    "ka-association": "საქართველოს პარლამენტი და ევროკავშირი\n\n"
    "საქართველოს პარლამენტმა დაამტკიცა ევროკავშირთან ასოცირების შეთანხმება 2014 წლის 18 "
    "ივლისს. კენჭისყრაში 123 დეპუტატმა მიიღო მონაწილეობა და ყველამ მხარი დაუჭირა "
    "შეთანხმებას.",
    "en-minsk": "CSTO ministers meet in Minsk\n\n"
    "The foreign ministers of the CSTO met in Minsk in June 2022 to discuss the situation on "
    "the border between Tajikistan and Afghanistan and the alliance's joint exercises.",
    "en-bishkek": "Kyrgyz parliament passes media law\n\n"
    "Kyrgyzstan's parliament approved a new law on the media in 2023, which journalists and "
    "international observers criticised as a threat to the freedom of the press.",
    "ru-dushanbe": "Саммит ОДКБ в Душанбе\n\n"
    "Саммит ОДКБ в 2021 году прошёл в Душанбе под председательством президента Таджикистана "
    "Эмомали Рахмона; лидеры обсудили положение в Афганистане.",
    "ru-eaeu": "Парламент Казахстана ратифицировал соглашение\n\n"
    "Парламент Казахстана ратифицировал соглашение о сотрудничестве в рамках ЕАЭС в 2015 "
    "году, после долгих обсуждений в обеих палатах.",
    "kk-sco": "ШЫҰ саммиті Астанада\n\n"
    "Қазақстан Президенті Қасым-Жомарт Тоқаев 2024 жылғы шілдеде Астанада Шанхай "
    "ынтымақтастық ұйымының саммитін өткізді.",
    "zh-sco": "上海合作组织峰会\n\n"
    "上海合作组织成员国元首理事会会议于2024年7月在阿斯塔纳举行，各国领导人讨论了地区安全问题。",
    # Finnish is not a language of the table: it is indexed all the same.
    "fi-helsinki": "Presidentit tapasivat Helsingissä\n\n"
    "Suomen presidentti Sauli Niinistö tapasi Venäjän presidentin Vladimir Putinin Helsingissä "
    "elokuussa 2018, ja keskustelu koski Itämeren turvallisuutta.",
}
